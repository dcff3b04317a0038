// Agent console, shared helpers: DOM building, labels, the JSON API.
// Every string from the server is shown with textContent, never as HTML.

export const PAGE = document.getElementById("page");
export const TREND = { rising: "↑ 上升", falling: "↓ 缓和", steady: "→ 平稳" };
export const WHO = { customer: "客户", agent: "坐席", bot: "智能客服" };
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
let labels = {};

export function setLabels(data) {
  labels = data || {};
}

export function el(tag, cls, text) {
  let node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function label(group, name) {
  if (!name) return "";
  return (labels[group] && labels[group][name]) || name;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function clock(value) {
  if (!value) return "";
  let date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return isNaN(date) ? "" : date.toLocaleTimeString("zh-CN", { hour12: false });
}

export function money(amount) {
  return Number(amount).toLocaleString("zh-CN", { maximumFractionDigits: 2 }) + " 元";
}

function toLogin() {
  window.location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
}

export function api(method, path, body) {
  let options = { method: method, credentials: "same-origin",
                  headers: { "Accept": "application/json", "X-CSRF-Token": CSRF } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  return fetch(path, options).then(function (reply) {
    if (reply.status === 401) { toLogin(); throw new Error("请先登录"); }
    return reply.json().catch(function () { return {}; }).then(function (data) {
      if (!reply.ok) throw new Error(data.message || ("请求失败（" + reply.status + "）"));
      return data;
    });
  });
}

export function status(node, text, isError) {
  node.textContent = text || "";
  node.classList.toggle("error", !!isError);
}
