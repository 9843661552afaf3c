// Walks every operation of openapi/openapi.json through the strict wx.request against a live API, signed in.
// Usage: node every_operation.cjs <openapi.json> <api url> <sandbox url>; prints {operations, refused, answers}.
const fs = require("node:fs");
const { createWx } = require("./wx.cjs");

const [specPath, api, sandbox] = process.argv.slice(2);
const spec = JSON.parse(fs.readFileSync(specPath, "utf8"));
const { wx } = createWx({ sandbox, user: "walker" });
const call = (options) => new Promise((resolve) => wx.request({ ...options, success: resolve, fail: resolve }));

(async () => {
  const { code } = await new Promise((resolve, reject) => wx.login({ success: resolve, fail: reject }));
  const login = await call({ url: `${api}/v1/auth/login`, method: "POST", data: { code } });
  const header = { authorization: `Bearer ${login.data.accessToken}` };
  const seen = { operations: 0, refused: [], answers: {} };
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of Object.keys(item).filter((key) => key !== "parameters")) {
      // Ids as a mini program has them: strings from earlier answers ("1" names nothing here: a 404 is fine).
      const url = api + path.replace(/\{(\w+)\}/g, (_, name) => (name === "user_id" ? "me" : name === "app" ? "polls" : "1"));
      const answer = await call({ url, method: method.toUpperCase(), header, data: method === "get" ? undefined : {} });
      seen.operations += 1;
      if (answer.statusCode === undefined) seen.refused.push(`${method.toUpperCase()} ${path}: ${answer.errMsg}`);
      else seen.answers[`${method.toUpperCase()} ${path}`] = answer.statusCode;
    }
  }
  console.log(JSON.stringify(seen));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
