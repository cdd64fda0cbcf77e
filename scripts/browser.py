"""What the browser checks share: JSON calls to the service, and a headless Chromium driven
through chromedriver's WebDriver protocol (W3C), with screenshots kept as artifacts."""
import base64, json, sys, time, urllib.error, urllib.request


def call(method, url, body=None, token=None, headers=None):
    """A JSON request; answers (status, parsed body)."""
    data = None if body is None else json.dumps(body).encode()
    sent = {"content-type": "application/json", **(headers or {})}
    if token:
        sent["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text or b"null")
        except ValueError:
            return error.code, text.decode(errors="replace")


class Browser:
    """One WebDriver session of headless Chromium."""

    def __init__(self, driver, artifacts, width=1000, height=800):
        self.driver, self.artifacts = driver, artifacts
        args = ["--headless", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"]
        capabilities = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"args": args}}}}
        for _ in range(50):
            status, answer = call("POST", f"{driver}/session", capabilities)
            if status == 200:
                self.session = answer["value"]["sessionId"]
                return
            time.sleep(0.1)
        sys.exit("chromedriver did not start a session")

    def wd(self, method, path, body=None):
        status, answer = call(method, f"{self.driver}/session/{self.session}{path}", body)
        if status != 200:
            sys.exit(f"WebDriver {method} {path}: {status} {answer}")
        return answer["value"]

    def open(self, url):
        self.wd("POST", "/url", {"url": url})

    def url(self):
        return self.wd("GET", "/url")

    def element(self, css):
        found = self.wd("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(found.values()))

    def type(self, css, text):
        self.wd("POST", f"/element/{self.element(css)}/value", {"text": text})

    def click(self, css):
        self.wd("POST", f"/element/{self.element(css)}/click", {})

    def run(self, script, *args):
        return self.wd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def text(self):
        return self.run("return document.body.innerText")

    def wait_for_text(self, text):
        """The page after a form was sent: the browser may still be loading it."""
        for _ in range(100):
            if text in self.text():
                return
            time.sleep(0.05)
        sys.exit(f"expected {text!r}, the page says: {self.text()!r}")

    def resize(self, width, height):
        self.wd("POST", "/window/rect", {"width": width, "height": height})

    def cookies(self):
        return self.wd("GET", "/cookie")

    def screenshot(self, name):
        with open(f"{self.artifacts}/{name}", "wb") as file:
            file.write(base64.b64decode(self.wd("GET", "/screenshot")))

    def close(self):
        call("DELETE", f"{self.driver}/session/{self.session}")
