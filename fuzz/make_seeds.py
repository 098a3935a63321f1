#!/usr/bin/env python3
"""Regenerates fuzz/corpus/<target>/ (seed corpora) and fuzz/dict/*.dict from the test
fixtures, the default rules and the unit tests' examples. Run from the repository root:
    python3 fuzz/make_seeds.py
Seeds are small and committed; libFuzzer's own finds go to a scratch directory."""
import hashlib, ipaddress, json, os, re, shutil, struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests/fixtures/real-world")
CORPUS = os.path.join(ROOT, "fuzz/corpus")
DICT = os.path.join(ROOT, "fuzz/dict")


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def compact(raw):
    return json.dumps(json.loads(raw), separators=(",", ":")).encode()


shutil.rmtree(CORPUS, ignore_errors=True)

# ---- documents: fixtures with the URL they are served from (and raw bodies)
docs = {
    "client_metadata_document": [
        ("https://app.example.com/oauth/client-metadata.json", "mcp-spec-example.cimd.json"),
        ("https://my-app.example/client-metadata.json", "atproto-example.cimd.json"),
    ],
    "jwks_document": [("https://idp.example.com/jwks", n) for n in sorted(os.listdir(FIX)) if n.endswith(".jwks.json")],
    "protected_resource_metadata_document": [
        ("https://api.githubcopilot.com/.well-known/oauth-protected-resource/mcp", "github-mcp.prm.json"),
        ("https://resource.example.com/.well-known/oauth-protected-resource", "rfc9728-example.prm.json"),
    ],
    "authorization_server_metadata_document": [
        ("https://accounts.google.com/.well-known/openid-configuration", "google.metadata.json"),
        ("https://appleid.apple.com/.well-known/openid-configuration", "apple.metadata.json"),
        ("https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration", "entra-common.metadata.json"),
        ("https://github.com/.well-known/oauth-authorization-server/login/oauth", "github.as-metadata.json"),
    ],
}
for target, items in docs.items():
    for url, name in items:
        body = fixture(name)
        put(target, b"@" + url.encode() + b"\n" + compact(body))
        put(target, body)
    put(target, "{}")
put("protected_resource_metadata_document",
    '@https://r.example/mcp\thttps://r.example/mcp\n{"resource":"https://r.example/mcp","authorization_servers":["https://as.example"]}')
put("authorization_server_metadata_document",
    '@https://as.example/.well-known/oauth-authorization-server\n{"issuer":"https://as.example","authorization_endpoint":"https://as.example/a","token_endpoint":"https://as.example/t","response_types_supported":["code"]}')

# ---- strict JSON
for name in sorted(os.listdir(FIX)):
    if name.endswith(".json"):
        put("json_document_bytes", compact(fixture(name)))
for s in ['{"a":{"b":1,"\\u0062":2}}', '{"a/b":{"~":1}}', '{"a":[[[[1]]]]}', '[1,2.5e300,-0.0,"x",null,true]',
          '{"a":"\\ud83d\\ude00","b":1e-7}', '\ufeff{}', '{"k":18446744073709551616}', '"s"']:
    put("json_document_bytes", s)

# ---- request bodies
for s in ['{"url":"https://a.example/x","kind":"jwks"}',
          '{"url":"https://a.example/.well-known/oauth-protected-resource","kind":"protected_resource_metadata","expect":{"resource":"https://a.example"}}',
          '{"url":"https://as.example/.well-known/oauth-authorization-server","kind":"authorization_server_metadata","expect":{"issuer":"https://as.example"}}',
          '{"url":"https://c.example/m.json","kind":"client_metadata","expect":{}}',
          '{"url":"https://a.example/x","kind":"json","extra":1}']:
    put("fetch_request_body", s)

# ---- URLs: every literal in the policy URL tests, plus well-known shapes
urls = set()
for path in ["tests/policy_urls.rs", "src/policy/tests.rs", "src/documents/well_known.rs"]:
    text = read(path).decode()
    for m in re.finditer(r'"((?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//[^"\\]*)"', text):
        urls.add(m.group(1))
urls |= {"https://example.com/", "https://127.1/", "https://[::ffff:127.0.0.1]/", "https://0x7f.1/",
         "https://a.example:8443/x?y#z", "https://u:p@a.example/", "https://@a.example/",
         "https://xn--nxasmq6b.example/", "https://a.example./.well-known/oauth-protected-resource/mcp?q"}
for u in sorted(urls):
    put("url_string", u)

# ---- addresses (16 bytes; the first 4 are also read as IPv4)
for a in ["::1", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "64:ff9b::808:808",
          "2002:7f00:1::1", "2002:808:808::1", "fd00:ec2::254", "fe80::1", "2001:db8::1", "2001::1",
          "2606:4700::1111", "ff02::1", "::a00:1", "::ffff:0:a00:1", "64:ff9b:1::a9fe:a9fe", "100::1"]:
    put("ip_address_bytes", ipaddress.IPv6Address(a).packed)
for v4 in ["127.0.0.1", "10.0.0.1", "169.254.169.254", "8.8.8.8", "100.100.100.200", "192.168.1.1", "0.0.0.0", "255.255.255.255"]:
    put("ip_address_bytes", ipaddress.IPv4Address(v4).packed + bytes(12))

# ---- rules files
put("rules_toml", read("rules/default.toml"))
for s in ['ports = [443, 8443]\nschemes = ["https"]\n',
          '[hosts]\nblock = ["*.corp.example", "intranet"]\nallow = ["*.example.com"]\nblock_single_label = false\n',
          '[[ranges]]\ncidr = "10.1.0.0/16"\naction = "allow"\nnote = "lab"\n\n[[ranges]]\ncidr = "10.1.2.0/24"\naction = "block"\nreason = "operator_rule"\n',
          '[[ranges]]\ncidr = "169.254.169.254"\naction = "allow"\n[[ranges]]\ncidr = "203.0.113.7/32"\naction = "block"\nreason = "cloud_metadata"\n',
          '[[ranges]]\ncidr = "::ffff:0:0/96"\naction = "block"\nreason = "ipv4_translated"\n[[ranges]]\ncidr = "2002::/16"\naction = "block"\n',
          '[[ranges]]\ncidr = "0.0.0.0/0"\naction = "allow"\n[[ranges]]\ncidr = "::/0"\naction = "allow"\n']:
    put("rules_toml", s)

# ---- HTTP responses: flag byte (bit 0 = HTTP/2, bits 1-7 = body cap / 64) + origin bytes
H1 = 0xFE
for r in [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
          b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
          b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"a\":1}",
          b"HTTP/1.1 301 Moved\r\nLocation: https://b.example/\r\nContent-Length: 0\r\n\r\n",
          b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\nxx",
          b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
          b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
          b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
          b"HTTP/1.0 200 OK\r\nCache-Control: max-age=60, no-store\r\nETag: \"v1\"\r\nAge: 5\r\n\r\n{}",
          b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(20)) + b"\r\n"]:
    put("http_response_bytes", bytes([H1]) + r)
put("http_response_bytes", bytes([0x02]) + b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100)


def frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


settings = frame(4, 0, 0, b"")
headers = frame(1, 4, 1, b"\x88\x5f\x10application/json")
headers_cl = frame(1, 4, 1, b"\x88\x5f\x10application/json\x5c\x017")
data = frame(0, 1, 1, b'{"a":1}')
put("http_response_bytes", bytes([0xFF]) + settings + headers + data)
put("http_response_bytes", bytes([0xFF]) + settings + headers_cl + frame(0, 0, 1, b'{"a"') + frame(0, 1, 1, b":1}"))
put("http_response_bytes", bytes([0x03]) + settings + frame(1, 5, 1, b"\x88"))
put("http_response_bytes", bytes([0xFF]) + settings + frame(7, 0, 0, b"\x00\x00\x00\x00\x00\x00\x00\x00"))

# ---- header values: Cache-Control, Expires, Date, Age, ETag, Content-Type, Content-Encoding
for s in ["public, max-age=600\n\n\n100\n\"v1\"\napplication/json\nidentity",
          "max-age=600, no-store\n\n\n\n\napplication/jwk-set+json; charset=utf-8\ngzip",
          "\nThu, 01 Jan 1970 01:00:00 GMT\nThu, 01 Jan 1970 00:30:00 GMT\n\n\ntext/html\nidentity, br",
          "max-age=\"60\", max-age=x\n0\nSun, 06 Nov 1994 08:49:37 GMT\n99999999999999999999\nW/\"x\"\nApplication/JSON\n"]:
    put("response_header_values", s)

# ---- WWW-Authenticate
for s in ['Bearer resource_metadata="https://r.example/.well-known/oauth-protected-resource"',
          'Basic dXNlcjpwYXNz==, Bearer resource_metadata=tok',
          'Bearer realm="x", error="invalid_token", error_description="a \\"quoted\\" b"',
          'Negotiate', 'Bearer resource_metadata="a", resource_metadata="b"',
          'Bearer resource_metadata="unterminated', 'DPoP algs="ES256 EdDSA", Bearer scope="a b"']:
    put("www_authenticate_header", s)

# ---- dictionaries
os.makedirs(DICT, exist_ok=True)
members = set()
for name in ["cimd", "jwks", "prm", "as_metadata", "fields"]:
    members |= set(re.findall(r'"([a-z][a-z0-9_]{1,40})"', read(f"src/documents/{name}.rs").decode()))
json_tokens = ['{', '}', '[', ']', ':', ',', '"', 'true', 'false', 'null', '-0', '1e308', '1.5', '\\u0000', '\\ud800', '\\"', '\\\\',
               'https://', 'https://a.example/', 'RSA', 'EC', 'OKP', 'oct', 'P-256', 'Ed25519', 'RS256', 'ES256', 'sig', 'enc',
               'authorization_code', 'refresh_token', 'none', 'private_key_jwt', 'code', 'S256']
def dict_line(tok):
    esc = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c) for c in tok)
    return f'"{esc}"\n'
with open(os.path.join(DICT, "json.dict"), "w") as f:
    for t in json_tokens:
        f.write(dict_line(t))
    for m in sorted(members):
        f.write(dict_line(f'"{m}"'))
url_tokens = ["https://", "http://", "://", "//", "@", ":", ":443", ":0", "[", "]", "::ffff:", "64:ff9b::", "2002:", "fe80::", "%25",
              "%2e", "%00", "127.0.0.1", "0x7f", "0177", "2130706433", "169.254.169.254", "localhost", ".localhost", ".internal",
              ".local", "xn--", "\u3002", "\uff0e", "\u2460", "#", "?", "/.well-known/oauth-protected-resource",
              "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "\\", "\t"]
with open(os.path.join(DICT, "url.dict"), "w") as f:
    for t in url_tokens:
        f.write("".join(dict_line(c) for c in [t]) if all(ord(c) < 128 for c in t)
                else '"' + "".join("\\x%02x" % b for b in t.encode()) + '"\n')
http_tokens = ["HTTP/1.1 ", "HTTP/1.0 ", "200 OK", "\r\n", "\r\n\r\n", ": ", "Content-Length: ", "Transfer-Encoding: chunked",
               "Transfer-Encoding: gzip, chunked", "Content-Type: application/json", "Content-Encoding: gzip", "Location: ",
               "Connection: close", "Cache-Control: ", "max-age=", "no-store", "no-cache", "Expires: ", "Age: ", "ETag: ", "0\r\n\r\n",
               "ffffffffffffffff", "Bearer ", "resource_metadata=", "realm=", "=\"", "\\\"", ", ", "Thu, 01 Jan 1970 00:00:00 GMT",
               "application/", "+json", "identity", ";charset=utf-8"]
with open(os.path.join(DICT, "http.dict"), "w") as f:
    for t in http_tokens:
        f.write(dict_line(t))
toml_tokens = ["[[ranges]]", "[hosts]", "cidr = ", "action = ", "\"allow\"", "\"block\"", "reason = ", "source = ", "note = ",
               "ports = [", "schemes = [", "block = [", "allow = [", "block_single_label = ", "true", "false", "/32", "/128", "/0",
               "::/0", "0.0.0.0/0", "::ffff:0:0/96", "64:ff9b::/96", "2002::/16", "\"cloud_metadata\"", "\"unspecified\"",
               "\"private_use\"", "\"loopback\"", "\"operator_rule\"", "\"*.", "\"https\"", "\"http\""]
with open(os.path.join(DICT, "toml.dict"), "w") as f:
    for t in toml_tokens:
        f.write(dict_line(t))
