#!/usr/bin/env python3
"""The client side of scripts/cluster-e2e: a mixed workload through the load balancer.

Each virtual client signs up, then until the deadline validates its token, reads its balance,
refreshes now and then, and spends 1 credit per request under a fresh idempotency key. A spend
that gets no answer, or a 5xx, is retried with the same key until acknowledged, so a crash or a
database restart may delay a spend but must never move credits twice. At the end every key
ever sent is sent once more (a replay must answer, never spend again), and the report compares
what the clients were acknowledged with what the service counts and lists.

Usage: cluster_e2e_load.py BASE_URL SECONDS CLIENTS REPORT.json
Stdlib only; each client has its own address in X-Forwarded-For (the load balancer is a
trusted proxy), so per-IP budgets apply per client.
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

BASE, SECONDS, CLIENTS, REPORT = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
PASSWORD = "correct horse battery staple"


def call(method, path, body=None, token=None, ip=None, timeout=5):
    """(status, json body); status 0 when no answer came."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if ip:
        headers["x-forwarded-for"] = ip
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"null")
        except ValueError:
            return error.code, None
    except (OSError, ValueError):
        return 0, None


def until_answered(method, path, body=None, token=None, ip=None, attempts=60):
    """Retries on no answer and on 5xx (the same request, so the same idempotency key)."""
    for _ in range(attempts):
        status, payload = call(method, path, body, token, ip)
        if status != 0 and status < 500:
            return status, payload
        time.sleep(0.5)
    return status, payload


class Client(threading.Thread):
    def __init__(self, number):
        super().__init__(daemon=True)
        self.number = number
        self.ip = f"198.18.{number // 250}.{number % 250 + 1}"
        self.email = f"e2e-{int(time.time())}-{number}@example.com"
        self.keys = []  # every idempotency key sent
        self.acknowledged = {}  # key -> transaction id
        self.statuses = {}
        self.errors = []

    def count(self, status):
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def sign_in(self):
        status, _ = until_answered("POST", "/api/v1/auth/register", {"email": self.email, "password": PASSWORD}, ip=self.ip)
        if status not in (201, 409):
            raise RuntimeError(f"register answered {status}")
        status, tokens = until_answered("POST", "/api/v1/auth/login", {"email": self.email, "password": PASSWORD}, ip=self.ip)
        if status != 200:
            raise RuntimeError(f"login answered {status}")
        return tokens

    def spend(self, token, key):
        body = {"amount": 1, "appId": "e2e", "description": "cluster e2e", "idempotencyKey": key, "metadata": {"key": key}}
        status, payload = until_answered("POST", "/api/v1/credits/use", body, token, self.ip)
        self.count(status)
        if status == 200:
            self.acknowledged[key] = payload["transaction"]["id"]
        return status

    def run(self):
        try:
            tokens = self.sign_in()
            deadline = time.time() + SECONDS
            n = 0
            while time.time() < deadline:
                n += 1
                token = tokens["accessToken"]
                status, answer = call("POST", "/api/v1/auth/validate", {"token": token}, ip=self.ip)
                self.count(status)
                if status == 200 and not answer["valid"]:
                    tokens = self.sign_in()
                    continue
                self.count(call("GET", "/api/v1/credits/balance", token=token, ip=self.ip)[0])
                key = f"{self.email}:{n}"
                self.keys.append(key)
                self.spend(token, key)
                if n % 10 == 0:
                    status, fresh = until_answered("POST", "/api/v1/auth/refresh", {"refreshToken": tokens["refreshToken"]}, ip=self.ip)
                    self.count(status)
                    tokens = fresh if status == 200 else self.sign_in()
            self.tokens = tokens
        except Exception as error:  # reported, and fails the run
            self.errors.append(repr(error))

    def reconcile(self):
        """Sends every key again, then compares with the service's own count and listing."""
        token = self.sign_in()["accessToken"]
        replays_changed = 0
        for key in self.keys:
            before = self.acknowledged.get(key)
            self.spend(token, key)
            if before is not None and self.acknowledged.get(key) != before:
                replays_changed += 1
        status, balance = until_answered("GET", "/api/v1/credits/balance", token=token, ip=self.ip)
        listed = []
        offset = 0
        while True:
            status, page = until_answered("GET", f"/api/v1/credits/transactions?limit=100&offset={offset}", token=token, ip=self.ip)
            if status != 200 or not page:
                break
            listed.extend(t for t in page if t["type"] == "usage")
            offset += len(page)
        listed_keys = [t["metadata"]["key"] for t in listed]
        return {
            "keys": len(self.keys),
            "acknowledged": len(self.acknowledged),
            "total_spent": balance["totalSpent"] if balance else None,
            "usage_listed": len(listed_keys),
            "listed_twice": len(listed_keys) - len(set(listed_keys)),
            "missing_from_ledger": len(set(self.acknowledged) - set(listed_keys)),
            "replays_changed": replays_changed,
        }


def main():
    clients = [Client(n) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(SECONDS + 120)
    acknowledged_during_load = sum(len(c.acknowledged) for c in clients)
    results = [client.reconcile() for client in clients]
    statuses = {}
    for client in clients:
        for status, count in client.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
    report = {
        "clients": CLIENTS,
        "statuses": statuses,
        "errors": [e for c in clients for e in c.errors],
        "keys": sum(r["keys"] for r in results),
        "acknowledged_during_load": acknowledged_during_load,
        "total_spent": sum(r["total_spent"] or 0 for r in results),
        "usage_listed": sum(r["usage_listed"] for r in results),
        "listed_twice": sum(r["listed_twice"] for r in results),
        "missing_from_ledger": sum(r["missing_from_ledger"] for r in results),
        "replays_changed": sum(r["replays_changed"] for r in results),
    }
    with open(REPORT, "w") as out:
        json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
