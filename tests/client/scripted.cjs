// A server that answers each request with the next scripted reply and records what came (method, url, the
// Idempotency-Key and Authorization headers). The body is read to its end first: an upload's multipart body must
// be taken before the answer. A script that runs out answers 500.
function scripted(replies) {
  const seen = [];
  const server = require("node:http").createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, key: req.headers["idempotency-key"], auth: req.headers.authorization });
    req.resume();
    req.on("end", () => {
      const [status, body, headers] = replies.shift() ?? [500, { code: "internal_error" }];
      res.writeHead(status, { "content-type": "application/json", ...(headers ?? {}) });
      res.end(typeof body === "string" ? body : JSON.stringify(body)); // a string: a page as is
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}`, seen, close: () => server.close() })),
  );
}

// One recorded request as a line: `POST /v1/media Bearer a`.
const line = (r) => `${r.method} ${r.url} ${r.auth}`;

module.exports = { scripted, line };
