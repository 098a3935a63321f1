// One GET through the Portcullis CONNECT proxy with undici's ProxyAgent.
// Usage: node client.mjs PROXY_URL CA_PEM TARGET_URL
// Prints one JSON line: {"ok":true,"status":200,"body":"..."} or {"ok":false,"error":"...",
// "x_portcullis_error":"..."}.
//
// undici's ProxyAgent reports a refused CONNECT only as "Proxy response (403) !== 200"; it
// drops the response headers. So on that error this client repeats the CONNECT with
// undici's own `Client#connect` to read the X-Portcullis-Error header, the way an operator
// would diagnose it.
import { readFileSync } from 'node:fs';
import { Client, ProxyAgent, request } from 'undici';

const [proxyUrl, caPath, target] = process.argv.slice(2);
const ca = readFileSync(caPath, 'utf8');
const agent = new ProxyAgent({ uri: proxyUrl, requestTls: { ca } });

async function diagnose() {
  const proxy = new URL(proxyUrl);
  const t = new URL(target);
  const auth = Buffer.from(
    `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`
  ).toString('base64');
  const client = new Client(proxy.origin);
  try {
    const { statusCode, headers, socket } = await client.connect({
      path: `${t.hostname}:${t.port || 443}`,
      headers: { 'proxy-authorization': `Basic ${auth}` },
    });
    socket.destroy();
    return { status: statusCode, code: headers['x-portcullis-error'] };
  } catch (e) {
    return { status: e.statusCode, code: e.headers && e.headers['x-portcullis-error'] };
  } finally {
    await client.close().catch(() => {});
  }
}

try {
  const res = await request(target, { dispatcher: agent });
  const body = await res.body.text();
  console.log(JSON.stringify({ ok: true, status: res.statusCode, body }));
} catch (e) {
  const out = { ok: false, error: String(e && e.message) };
  if (/Proxy response \(\d+\)/.test(out.error)) {
    const d = await diagnose();
    out.x_portcullis_error = d.code;
    out.connect_status = d.status;
  }
  console.log(JSON.stringify(out));
  process.exitCode = 1;
} finally {
  await agent.close();
}
