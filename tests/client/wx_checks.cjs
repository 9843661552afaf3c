// The strict wx refuses what WeChat refuses. Usage: node wx_checks.cjs <api url> <sandbox url>; prints JSON.
const { createWx } = require("./wx.cjs");

const [api, sandbox] = process.argv.slice(2);
const { wx } = createWx({ sandbox });
const call = (fn, options) => new Promise((resolve) => fn({ ...options, success: resolve, fail: resolve }));

(async () => {
  const seen = {};
  seen.patch = (await call(wx.request, { url: `${api}/v1/me`, method: "PATCH", data: {} })).errMsg;
  seen.referer = (await call(wx.request, { url: `${api}/healthz`, header: { Referer: "https://x" } })).errMsg;
  const many = await Promise.all(Array.from({ length: 11 }, () => call(wx.request, { url: `${api}/healthz` })));
  seen.inFlight = many.map((answer) => answer.statusCode ?? answer.errMsg);
  seen.json = typeof (await call(wx.request, { url: `${api}/healthz` })).data;
  seen.text = typeof (await call(wx.request, { url: `${api}/healthz`, dataType: "其他" })).data;
  const upload = await call(wx.uploadFile, { url: `${api}/healthz`, name: "file", file: new Uint8Array([1, 2, 3]) });
  seen.upload = { status: upload.statusCode, type: typeof upload.data };
  const payment = { timeStamp: 1, nonceStr: "n", package: "prepay_id=x", signType: "RSA", paySign: "s" };
  seen.paymentNumber = (await call(wx.requestPayment, payment)).errMsg;
  seen.paymentMd5 = (await call(wx.requestPayment, { ...payment, timeStamp: "1", signType: "MD5" })).errMsg;
  wx.setStorageSync("k", { a: 1 });
  seen.storage = [wx.getStorageSync("k"), (wx.removeStorageSync("k"), wx.getStorageSync("k"))];
  console.log(JSON.stringify(seen));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
