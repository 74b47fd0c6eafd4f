// cook ui: helpers shared by the pages. Session data is only ever written with textContent.
"use strict";
const cook = (() => {
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function time(iso) {
    if (!iso) return "-";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "-";
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h ? `${h}h${String(m).padStart(2, "0")}m${String(r).padStart(2, "0")}s`
      : `${m}m${String(r).padStart(2, "0")}s`;
  }
  function live(text, state) {
    const node = document.getElementById("live");
    if (node) { node.textContent = text; node.dataset.state = state; }
  }
  async function json(url, options) {
    const response = await fetch(url, Object.assign({credentials: "same-origin"}, options || {}));
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return body;
  }
  // Calls fn at most once per `wait` ms, the last call always honoured.
  function throttle(fn, wait) {
    let timer = null, again = false;
    return function run() {
      if (timer) { again = true; return; }
      fn();
      timer = setTimeout(() => { timer = null; if (again) { again = false; run(); } }, wait);
    };
  }
  return {el, time, duration, live, json, throttle};
})();
