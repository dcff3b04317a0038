// Agent console: why a suggestion is offered (shown on hover), and a supervisor's pin and retire.
import { api, el } from "./common.js";

function signed(value) {
  return (value > 0 ? "+" : "") + value.toFixed(2);
}

// The `why` of a suggestion as one line of text.
export function whyText(why) {
  var parts = [];
  if (why.pinned) parts.push("主管已置顶");
  if (why.fit !== null && why.fit !== undefined) parts.push("契合度 " + why.fit);
  if (why.used === null || why.used === undefined) {
    parts.push("暂无使用数据，按契合度排序");
  } else {
    parts.push("坐席已发送 " + why.used + " 次");
    parts.push(why.n ? "客户情绪平均变化 " + signed(why.effect) + "（" + why.n + " 次可比，负数为缓和）"
                     : "还没有可比的情绪变化");
  }
  return "推荐依据：" + parts.join("；");
}

export function whyBox(why) {
  var box = el("div", "why", whyText(why));
  box.setAttribute("role", "note");
  return box;
}

// Pin / unpin and retire buttons for supervisors and admins; the change is recorded and audited.
export function lineControls(s, status) {
  var box = el("span", "line-controls");
  var pinned = !!(s.why && s.why.pinned);
  var pin = el("button", "pin", pinned ? "取消置顶" : "置顶");
  var retire = el("button", "retire", "停用");
  [pin, retire].forEach(function (b) { b.type = "button"; box.appendChild(b); });
  function act(action, done) {
    api("POST", "/console/api/script/" + encodeURIComponent(s.id), { action: action })
      .then(function (reply) { done(reply); status(reply.message); })
      .catch(function (error) { status(error.message, true); });
  }
  pin.addEventListener("click", function () {
    act(pinned ? "unpin" : "pin", function () { pinned = !pinned; pin.textContent = pinned ? "取消置顶" : "置顶"; });
  });
  retire.addEventListener("click", function () {
    act("retire", function () { retire.disabled = true; retire.textContent = "已停用"; });
  });
  return box;
}
