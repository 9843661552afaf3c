// A group open through the strict wx, as the mini program does it: opened from a share's card in a group chat
// (the launch options carry the share's code and a shareTicket), wx.getShareInfo, then POST the data. A wx.login
// since the last login makes the data unreadable for the API (invalid_open_data, action login): log in, ask again.
// Usage: node share_open.cjs <api url> <sandbox url> <share code> <shareTicket>; prints JSON.
const { createWx } = require("./wx.cjs");

const [api, sandbox, code, shareTicket] = process.argv.slice(2);
const launch = { path: "pages/share/index", query: { code }, shareTicket };
const { wx, log } = createWx({ sandbox, user: "erin", launch });
const call = (fn, options = {}) => new Promise((resolve) => fn({ ...options, success: resolve, fail: resolve }));

(async () => {
  const seen = {};
  const signIn = async (loginCode) => {
    const answer = await call(wx.request, { url: `${api}/v1/auth/login`, method: "POST", data: { code: loginCode } });
    return { Authorization: `Bearer ${answer.data.accessToken}` };
  };
  let header = await signIn((await call(wx.login)).code);
  const options = wx.getLaunchOptionsSync();
  seen.launch = { scene: options.scene, code: options.query.code };
  const open = async () => {
    const info = await call(wx.getShareInfo, { shareTicket: options.shareTicket });
    const url = `${api}/v1/shares/${options.query.code}/group-opens`;
    const data = { encryptedData: info.encryptedData, iv: info.iv };
    const answer = await call(wx.request, { url, method: "POST", header, data });
    return { info: info.errMsg, status: answer.statusCode, body: answer.data };
  };
  seen.first = await open();
  const { code: newer } = await call(wx.login); // a new session_key the API does not know yet
  seen.stale = await open();
  header = await signIn(newer);
  seen.again = await open();
  seen.unknown = (await call(wx.getShareInfo, { shareTicket: "no-such-ticket" })).errMsg;
  seen.missing = (await call(wx.getShareInfo, {})).errMsg;
  seen.apis = log.map((entry) => entry.api);
  console.log(JSON.stringify(seen));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
