// Test lab launcher: builds (if needed) and starts `examples/testlab.rs` (DNS + TLS origin
// on loopback, ready-made config) and the real `portcullis serve` binary against it.
// Used by this package's tests and by tests/e2e-oidc.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

let built = false;

/** Paths of the service binary and the lab; builds both once unless given by env. */
export function binaries() {
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(REPO, 'target');
  const bin = process.env.PORTCULLIS_BIN ?? join(targetDir, 'debug', 'portcullis');
  const lab = process.env.PORTCULLIS_TESTLAB ?? join(targetDir, 'debug', 'examples', 'testlab');
  if (!built && !process.env.PORTCULLIS_BIN) {
    const r = spawnSync('cargo', ['build', '--locked', '--bin', 'portcullis', '--example', 'testlab'], {
      cwd: REPO,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (r.status !== 0) throw new Error('cargo build of portcullis / testlab failed');
    built = true;
  }
  for (const p of [bin, lab]) if (!existsSync(p)) throw new Error(`missing ${p}`);
  return { bin, lab };
}

function firstJsonLine(child, what) {
  return new Promise((resolvePromise, reject) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${what} did not report ready`)), 30_000);
    rl.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolvePromise({ first: JSON.parse(line), rl });
      } catch (e) {
        reject(new Error(`${what}: ${line}`, { cause: e }));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}`));
    });
  });
}

async function waitHealthy(base, child) {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`portcullis exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('portcullis did not become healthy');
}

/**
 * Starts a lab for `spec` (see examples/testlab.rs) and the service. Returns
 * `{ service, port, url(host, path), dir, restartService(), stop() }`; `stop()` resolves to
 * the lab's final report (connection counters, origin hits).
 */
export async function startLab(spec, { serviceStderr = 'ignore' } = {}) {
  const { bin, lab } = binaries();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-lab-'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  const labProc = spawn(lab, ['--spec', join(dir, 'spec.json'), '--dir', join(dir, 'lab')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const { first: ready, rl } = await firstJsonLine(labProc, 'testlab');
  const finalLine = new Promise((r) => rl.once('line', (l) => r(JSON.parse(l))));

  let svc;
  async function startService() {
    svc = spawn(bin, ['serve', '--config', ready.config], {
      stdio: ['ignore', 'ignore', serviceStderr],
    });
    await waitHealthy(ready.service, svc);
  }
  async function stopService() {
    if (svc && svc.exitCode === null) {
      const exited = new Promise((r) => svc.once('exit', r));
      svc.kill('SIGTERM');
      await exited;
    }
  }
  await startService();
  return {
    service: ready.service,
    port: ready.origin_port,
    audit: ready.audit,
    dir,
    url: (host, path) => `https://${host}:${ready.origin_port}${path}`,
    async restartService() {
      await stopService();
      await startService();
    },
    async stop() {
      await stopService();
      labProc.stdin.end();
      const report = await Promise.race([
        finalLine,
        new Promise((r) => setTimeout(() => r(undefined), 5_000)),
      ]);
      if (labProc.exitCode === null) labProc.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      return report;
    },
  };
}
