"""One GET through the Portcullis CONNECT proxy with requests' `proxies=`.

Usage: python client.py PROXY_URL CA_PEM TARGET_URL
Prints one JSON line: {"ok": true, "status": 200, "body": "..."} or {"ok": false, "error": "..."}.
"""
import json
import sys

import requests

proxy, ca, target = sys.argv[1:4]
try:
    r = requests.get(target, proxies={"https": proxy}, verify=ca, timeout=10)
    print(json.dumps({"ok": True, "status": r.status_code, "body": r.text}))
except requests.exceptions.RequestException as e:
    print(json.dumps({"ok": False, "error": str(e)}))
    sys.exit(1)
