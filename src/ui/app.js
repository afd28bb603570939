// The live gather page (GET /api/ui). Plain browser JavaScript, no build step, no libraries.
// It only talks to this app's HTTP API (see /api/openapi.json); the function key is typed in (or given
// once as ?code=), kept in this tab's sessionStorage and sent as x-functions-key, never put in the page.
"use strict";

const API = new URL("./", location.href).pathname.replace(/ui\/?$/, "").replace(/\/$/, ""); // "/api"
const $ = (selector) => document.querySelector(selector);
const POLL_MS = 500;
const PAGE_SIZE = 25;
const TERMINAL = new Set(["Completed", "Failed", "Terminated", "Canceled"]);
const CLOSED_BY = {
  "all-responded": "every recipient answered or finally failed",
  "first-response": "the first successful answer arrived",
  "quorum-reached": "the quorum of answers was reached",
  deadline: "the deadline passed before the policy was met",
  "quorum-unreachable": "the quorum could no longer be met",
  "all-failed": "every recipient failed",
  "failure-tolerance-exceeded": "more recipients failed than the tolerance allows",
};

/** What the page keeps of the gather it watches, as a switch to another one starts it. */
const watchState = () => ({
  offset: 0,
  // The offsets of the pages before this one (a page may end early at the API's byte limit: offsets are not multiples).
  earlierOffsets: [],
  nextOffset: null,
  lastTable: 0,
  lastHistogram: 0,
  histogramEmpty: true,
  tableEveryMs: 1000,
  histogramEveryMs: 2000,
  pollError: false,
});

const state = { id: null, status: null, body: null, filter: "", timer: null, recentToken: null, ...watchState() };

// ---------------------------------------------------------------------------------------------- key

function takeKeyFromUrl() {
  const url = new URL(location.href);
  const code = url.searchParams.get("code");
  if (code === null) return;
  sessionStorage.setItem("sg.key", code);
  url.searchParams.delete("code"); // out of the address bar and the history
  history.replaceState(null, "", url.pathname + url.search + url.hash);
}

function key() {
  return sessionStorage.getItem("sg.key") || "";
}

function showKeyState(message) {
  $("#key-state").textContent = message || (key() ? "key set for this tab" : "no key");
}

// ---------------------------------------------------------------------------------------------- API

/** An answer that is not 2xx, or none at all (status 0: the API could not be reached). */
class ApiError extends Error {
  constructor(status, body, what) {
    super(status ? `${what}: ${status}${body && body.error ? ` ${body.error.message}` : ""}` : what);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  return (await apiRead(method, path, body)).parsed;
}

/** api(), with the size of the answer (what the page's reads cost the network: the polls slow down for large ones). */
async function apiRead(method, path, body) {
  const headers = { accept: "application/json" };
  if (key()) headers["x-functions-key"] = key();
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : body });
  } catch {
    throw new ApiError(0, null, `${method} ${path}: the API could not be reached`);
  }
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (res.status === 401 || res.status === 403) showKeyState("the API wants a function key");
  if (!res.ok) throw new ApiError(res.status, parsed, `${method} ${path}`);
  return { parsed, bytes: text.length };
}

/** How often a read that took `bytes` is repeated while a gather runs: at most about 500 KB a second, and never more often than `floorMs`. */
const everyMs = (floorMs, bytes) => Math.max(floorMs, Math.round(bytes / 500));

const gatherPath = (id) => `/scatter-gather/${encodeURIComponent(id)}`;

// ---------------------------------------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function badge(text) {
  return el("span", { class: `status-${text}` }, text);
}

function setText(selector, text) {
  $(selector).textContent = text;
}

function remaining(deadline) {
  if (!deadline) return "none";
  const ms = Date.parse(deadline) - Date.now();
  if (ms <= 0) return "passed";
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  // Whole seconds first, then the units: never "1 min 60 s".
  const s = Math.round(ms / 1000);
  const [d, h, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min ${s % 60} s`;
}

// ---------------------------------------------------------------------------------------------- start

let examples = {};

async function loadExamples() {
  const doc = await fetch(`${API}/openapi.json`).then((r) => r.json());
  const item = doc.paths[`${API}/scatter-gather`] || doc.paths["/api/scatter-gather"];
  examples = item.post.requestBody.content["application/json"].examples;
  const box = $("#examples");
  for (const [name, example] of Object.entries(examples)) {
    box.append(el("button", { class: "small", title: example.summary, "data-example": name, onclick: () => useExample(name) }, name));
  }
  if (!$("#editor").value) useExample("all");
}

function useExample(name) {
  $("#editor").value = JSON.stringify(examples[name].value, null, 2);
  for (const b of document.querySelectorAll("#examples button")) b.classList.toggle("active", b.dataset.example === name);
  clearErrors();
}

function clearErrors() {
  $("#errors").hidden = true;
  $("#annotated").textContent = "";
}

/** Pretty-printed JSON as lines, each with the path (recipients[2].url) of the value it holds. */
function linesWithPaths(value, path = "", indent = "", prefix = "", suffix = "", out = []) {
  const isObject = value !== null && typeof value === "object";
  if (!isObject || (Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0)) {
    out.push({ path, text: `${indent}${prefix}${JSON.stringify(value)}${suffix}` });
    return out;
  }
  out.push({ path, text: `${indent}${prefix}${Array.isArray(value) ? "[" : "{"}` });
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  entries.forEach(([k, v], i) => {
    const childPath = typeof k === "number" ? `${path}[${k}]` : path ? `${path}.${k}` : k;
    const comma = i < entries.length - 1 ? "," : "";
    linesWithPaths(v, childPath, `${indent}  `, typeof k === "number" ? "" : `${JSON.stringify(k)}: `, comma, out);
  });
  out.push({ path, text: `${indent}${Array.isArray(value) ? "]" : "}"}${suffix}` });
  return out;
}

/** The line a path names, or its nearest ancestor's (a missing field is reported on its parent). */
function lineOf(lines, path) {
  for (let p = path; ; p = p.replace(/(\.[^.[\]]+|\[\d+\])$/, "")) {
    const index = lines.findIndex((l) => l.path === p);
    if (index >= 0) return index;
    if (p === "") return 0;
    if (!/(\.[^.[\]]+|\[\d+\])$/.test(p)) p = "";
  }
}

/** The request pretty-printed, each error of the API next to the line of the field it names. */
function showErrors(body, error) {
  const details = (error.body && error.body.error && error.body.error.details) || [];
  $("#errors").hidden = false;
  const message = (error.body && error.body.error && error.body.error.message) || error.message;
  setText("#errors-summary", error.status ? `${error.status}: ${message}` : message);
  const pre = $("#annotated");
  pre.textContent = "";
  if (body === undefined || details.length === 0) return;
  const lines = linesWithPaths(body);
  const notes = new Map();
  for (const d of details) {
    const at = lineOf(lines, d.path);
    notes.set(at, [...(notes.get(at) || []), d]);
  }
  lines.forEach((line, i) => {
    const ds = notes.get(i);
    const row = el("div", ds ? { class: "bad-line" } : {}, line.text);
    for (const d of ds || []) row.append(el("span", { class: "note", "data-path": d.path }, `   ← ${d.path || "(body)"}: ${d.message}`));
    pre.append(row);
  });
}

async function start() {
  clearErrors();
  const text = $("#editor").value;
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    showErrors(undefined, { status: "not JSON", message: e.message, body: null });
    return;
  }
  $("#start-button").disabled = true;
  setText("#start-state", "starting…");
  try {
    const started = await api("POST", "/scatter-gather", text);
    setText("#start-state", "");
    sessionStorage.setItem(`sg.body.${started.id}`, JSON.stringify(body));
    // The same id again (a fixed one, as the auction example's): no hashchange comes, so watch the new run here.
    if (hashId() === started.id) watch(started.id);
    else location.hash = encodeURIComponent(started.id);
    void refreshRecent();
  } catch (error) {
    setText("#start-state", "");
    if (error.status === 409 && error.body && error.body.id) {
      showErrors(body, error);
      $("#errors-summary").append(" ", el("a", { href: `#${encodeURIComponent(error.body.id)}` }, "watch it"));
    } else showErrors(body, error);
  } finally {
    $("#start-button").disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------- recent

let recentLoading = false;
async function refreshRecent(more = false) {
  // One read at a time: a second click on "more" would append the same page twice.
  if (recentLoading) return;
  recentLoading = true;
  $("#recent-more").disabled = true;
  try {
    const page = await api(
      "GET",
      `/scatter-gather?top=50${more && state.recentToken ? `&continuationToken=${encodeURIComponent(state.recentToken)}` : ""}`,
    );
    const tbody = $("#recent tbody");
    if (!more) tbody.textContent = "";
    const items = [...page.items].sort((a, b) => (a.createdTime < b.createdTime ? 1 : -1));
    for (const g of items) {
      if (recentRow(g.id)) continue;
      tbody.append(
        el(
          "tr",
          { "data-id": g.id, class: g.id === state.id ? "current" : "", onclick: () => (location.hash = encodeURIComponent(g.id)) },
          el("td", {}, el("code", {}, g.id)),
          el("td", { "data-cell": "status" }, badge(g.runtimeStatus)),
          el("td", {}, new Date(g.createdTime).toLocaleTimeString([], { hour12: false })),
          el("td", { "data-cell": "outcome" }, g.outcome ? badge(g.outcome) : ""),
          el("td", { class: "num", "data-cell": "counts" }, countsText(g.counts || g.progress)),
        ),
      );
    }
    state.recentToken = page.continuationToken;
    $("#recent-more").hidden = !page.continuationToken;
  } catch (error) {
    $("#recent tbody").textContent = "";
    $("#recent tbody").append(el("tr", {}, el("td", { colspan: "5", class: "error" }, error.message)));
  } finally {
    recentLoading = false;
    $("#recent-more").disabled = false;
  }
}

const countsText = (counts) => (counts ? `${counts.succeeded}/${counts.total}` : "");

function recentRow(id) {
  return [...document.querySelectorAll("#recent tbody tr")].find((row) => row.dataset.id === id);
}

/** The watched gather's row as its status now says, in place (the pages of the list loaded so far stay). */
function updateRecentRow(status) {
  const row = recentRow(status.id);
  if (!row) return void refreshRecent();
  const cell = (name) => row.querySelector(`[data-cell=${name}]`);
  cell("status").replaceChildren(badge(status.runtimeStatus));
  cell("outcome").replaceChildren(status.result ? badge(status.result.outcome) : "");
  cell("counts").textContent = countsText((status.result && status.result.counts) || status.progress);
}

// ---------------------------------------------------------------------------------------------- watch

function watch(id) {
  clearInterval(state.timer);
  Object.assign(state, { id, status: null, ...watchState() });
  const saved = sessionStorage.getItem(`sg.body.${id}`);
  state.body = saved ? JSON.parse(saved) : null;
  // Nothing of the gather watched before may show under this id, data-done least of all.
  const watched = $("#watch");
  watched.hidden = false;
  watched.dataset.id = id;
  delete watched.dataset.done;
  setText("#gather-id", id);
  for (const s of ["#action-state", "#answer-state", "#aggregate", "#counts"]) setText(s, "");
  for (const s of ["#runtime-status", "#phase", "#deadline", "#policy", "#outcome", "#closed-by"]) setText(s, "—");
  for (const s of ["#runtime-status", "#outcome"]) $(s).className = "";
  for (const s of ["#progress .ok", "#progress .bad"]) $(s).style.width = "0";
  noActions();
  setText("#page-info", "");
  $("#responses tbody").textContent = "";
  $("#histogram").textContent = "";
  for (const row of document.querySelectorAll("#recent tbody tr")) row.classList.toggle("current", row.dataset.id === id);
  void poll();
  state.timer = setInterval(poll, POLL_MS);
}

// The id being polled: a poll of the gather watched before must not hold back this one's.
let polling = null;
async function poll() {
  if (!state.id || polling === state.id) return;
  const id = state.id;
  polling = id;
  try {
    const status = await api("GET", gatherPath(id));
    if (id !== state.id) return;
    state.status = status;
    if (state.pollError) {
      state.pollError = false;
      setText("#action-state", "");
    }
    renderStatus(status);
    const done = TERMINAL.has(status.runtimeStatus);
    const now = Date.now();
    if (done || now - state.lastTable > state.tableEveryMs) {
      state.lastTable = now;
      await renderResponses();
    }
    // The histogram reads every page of responses, values included: every 2 s for a small gather (or one with no
    // answer drawn yet), every 15 s for a large one, less often still for large answers (everyMs).
    const total = (status.progress && status.progress.total) || 0;
    const histogramFloor = total > 1000 && !state.histogramEmpty ? 15000 : 2000;
    if (done || now - state.lastHistogram > Math.max(histogramFloor, state.histogramEmpty ? 0 : state.histogramEveryMs)) {
      state.lastHistogram = now;
      await renderHistogram();
    }
    if (id !== state.id) return; // switched while the answers loaded: the timer is the new gather's
    if (done) {
      clearInterval(state.timer);
      $("#watch").dataset.done = "true";
      updateRecentRow(status);
    } else delete $("#watch").dataset.done;
  } catch (error) {
    if (id !== state.id) return;
    setText("#action-state", error.message);
    state.pollError = true;
    if (error.status === 404) gone();
  } finally {
    if (polling === id) polling = null;
  }
}

/** The watched gather is not there (deleted meanwhile, or never was): nothing of what it showed stays actionable. */
function gone() {
  clearInterval(state.timer);
  state.status = null;
  setText("#runtime-status", "not found (deleted?)");
  $("#runtime-status").className = "";
  for (const s of ["#phase", "#deadline"]) setText(s, "—");
  noActions();
}

/** Nothing to act on until a status says what the gather allows (a switch), or ever again (gone). */
function noActions() {
  for (const s of ["#terminate", "#delete", "#page-prev", "#page-next"]) $(s).disabled = true;
  $("#redrive").hidden = true;
  $("#answer-box").hidden = true;
}

/** The policy, from the status route's `policy`, or from the request this page started on a server without it. */
function policyText(body) {
  if (!body) return "(not shown by this server)";
  const c = body.completion || {};
  const a = body.aggregate || {};
  const mode = c.mode || "all";
  const parts = [mode === "quorum" ? `quorum ${c.quorum}${c.agree ? " agreeing" : ""}` : mode];
  parts.push(c.timeoutMs ? `deadline ${c.timeoutMs} ms` : "no deadline");
  parts.push(`${a.kind || "collect"}${a.field ? ` ${a.field}` : ""}${a.order ? ` ${a.order}` : ""}`);
  if (body.auction) parts.unshift("auction");
  if (body.retry) parts.push(`retry ×${body.retry.maxAttempts}`);
  const w = body.concurrency;
  if (w && w.maxInFlight) parts.push(`at most ${w.maxInFlight} at once`);
  if (w && w.perOrigin) parts.push(`${w.perOrigin} per origin`);
  const t = body.tolerance;
  if (t && t.maxFailures !== undefined) parts.push(`closes past ${t.maxFailures} failure${t.maxFailures === 1 ? "" : "s"}`);
  if (t && t.maxFailurePercent !== undefined) parts.push(`closes past ${t.maxFailurePercent}% failed`);
  if (body.onClose) parts.push("close event on close");
  return parts.join(", ");
}

/** How the close event's delivery went (result.notification), or "" without onClose. */
function notificationText(notification) {
  if (!notification) return "";
  const status = notification.lastStatus === null ? "no answer" : `HTTP ${notification.lastStatus}`;
  const tries = `${notification.attempts} attempt${notification.attempts === 1 ? "" : "s"}`;
  return notification.delivered
    ? `; close event delivered (${tries}, ${status})`
    : `; close event not delivered (${tries}, last ${status})`;
}

function renderStatus(status) {
  const p = status.progress || {};
  const ended = TERMINAL.has(status.runtimeStatus);
  const r = status.result;
  const counts = r ? r.counts : p;
  setText("#runtime-status", status.runtimeStatus);
  $("#runtime-status").className = `status-${status.runtimeStatus}`;
  setText("#phase", p.phase || "—");
  setText("#policy", policyText(status.policy || state.body));
  setText("#outcome", r ? r.outcome : "—");
  $("#outcome").className = r ? `status-${r.outcome}` : "";
  setText(
    "#closed-by",
    r
      ? `${r.closedBy}: ${CLOSED_BY[r.closedBy] || ""}${notificationText(r.notification)}`
      : ended
        ? `${status.runtimeStatus.toLowerCase()}, no result${status.error ? `: ${errorText(status.error)}` : ""}`
        : p.phase === "done"
          ? "closed: its result is written; delivering its close event (the result shows once that ends)"
          : "—",
  );
  const total = (counts && counts.total) || 0;
  const ok = (counts && counts.succeeded) || 0;
  const bad = (counts && counts.failed) || 0;
  // An auction without `expected` has no total until it closes: what it took so far is not 100 %.
  const openEnded = !r && !ended && status.policy && status.policy.auction && status.policy.auction.expected === null;
  $("#progress .ok").style.width = total && !openEnded ? `${(100 * ok) / total}%` : "0";
  $("#progress .bad").style.width = total && !openEnded ? `${(100 * bad) / total}%` : "0";
  const pending = r ? 0 : p.pending || 0;
  const waiting = !r && p.awaitingReply ? ` (${p.awaitingReply} waiting for reply)` : "";
  const redriven = r && r.redrives ? `; redriven ${r.redrives}×` : "";
  const unsettled = p ? `${p.timedOut ? `, timed out ${p.timedOut}` : ""}${p.abandoned ? `, abandoned ${p.abandoned}` : ""}` : "";
  const extra = r ? `, timed out ${r.counts.timedOut}, abandoned ${r.counts.abandoned}${redriven}` : `${unsettled}${waiting}`;
  setText(
    "#counts",
    openEnded
      ? `${ok} answer${ok === 1 ? "" : "s"} so far; it takes answers until its deadline (no expected count)`
      : `${total} recipients: succeeded ${ok}, failed ${bad}, pending ${pending}${extra}`,
  );
  // Closed and delivering its close event: its result is written, there is nothing left to terminate (410).
  $("#terminate").disabled = ended || p.phase === "done";
  $("#delete").disabled = !ended;
  $("#redrive").hidden = !redrivable(status);
  setText(
    "#aggregate",
    r ? JSON.stringify(r.aggregate, null, 2) : ended ? "(none: the gather ended without a result)" : "(when the gather closes)",
  );
  // Auction answers are for auctions (a late one shows the 410 an answer after the close gets).
  $("#answer-box").hidden = !(status.policy && status.policy.auction);
  renderDeadline();
}

/** Why a Failed orchestration failed (the status route's `error`), short enough for one line. */
function errorText(error) {
  const text = typeof error === "string" ? error : JSON.stringify(error);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/** A Completed gather (not an auction, its policy not met) with recipients that failed, timed out or were abandoned. */
function redrivable(status) {
  const r = status.result;
  if (status.runtimeStatus !== "Completed" || !r || !r.counts || (status.policy && status.policy.auction)) return false;
  if (r.closedBy === "first-response" || r.closedBy === "quorum-reached") return false;
  return r.counts.failed + r.counts.timedOut + r.counts.abandoned > 0;
}

function renderDeadline() {
  const s = state.status;
  if (!s) return;
  const deadline = s.progress && s.progress.deadline;
  if (s.result)
    setText("#deadline", deadline ? `closed ${s.result.closedAt.slice(11, 23)} UTC (deadline ${deadline.slice(11, 23)} UTC)` : "none");
  else if (TERMINAL.has(s.runtimeStatus)) setText("#deadline", "—");
  else if (s.progress && s.progress.phase === "done") setText("#deadline", "closed");
  else setText("#deadline", remaining(deadline));
}

// Each read of the table is numbered: an answer to an older one (another page, filter or gather) is dropped.
let tableReads = 0;
async function renderResponses() {
  const id = state.id;
  const read = ++tableReads;
  const q = `?offset=${state.offset}&limit=${PAGE_SIZE}${state.filter ? `&status=${state.filter}` : ""}`;
  const { parsed: page, bytes } = await apiRead("GET", `${gatherPath(id)}/responses${q}`);
  if (id !== state.id || read !== tableReads) return;
  state.tableEveryMs = everyMs(1000, bytes);
  // Past the end (fewer entries match the filter than when this page was opened): the last page instead.
  if (page.items.length === 0 && page.offset > 0) {
    state.offset = page.total > 0 ? Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE : 0;
    state.earlierOffsets = state.earlierOffsets.filter((offset) => offset < state.offset);
    if (state.offset < page.offset) return renderResponses();
  }
  const tbody = $("#responses tbody");
  tbody.textContent = "";
  for (const r of page.items) {
    const value =
      r.value === undefined
        ? ""
        : el("button", { class: "small", onclick: (e) => e.target.replaceWith(el("pre", {}, JSON.stringify(r.value, null, 2))) }, "show");
    tbody.append(
      el(
        "tr",
        { "data-recipient": r.recipientId },
        el("td", {}, el("code", {}, r.recipientId)),
        el("td", {}, badge(r.status), r.waitingFor === "reply" ? el("span", { class: "muted" }, " waiting for reply") : ""),
        el("td", { class: "num" }, r.attempts === undefined ? "" : String(r.attempts)),
        el("td", { class: "num" }, r.durationMs === undefined ? "" : `${Math.round(r.durationMs)} ms`),
        el("td", { class: "error" }, r.error || ""),
        el("td", {}, value),
      ),
    );
  }
  const last = Math.min(page.offset + page.items.length, page.total);
  setText("#page-info", page.total ? `${page.offset + 1}–${last} of ${page.total}` : "none");
  // A page may hold fewer than asked (the API's byte limit): the next one starts after its last entry.
  state.nextOffset = page.offset + page.items.length;
  $("#page-prev").disabled = page.offset === 0;
  $("#page-next").disabled = page.nextUri === null;
}

/** Every entry's duration (all pages), then an SVG histogram of them. */
async function renderHistogram() {
  const id = state.id;
  const durations = [];
  let bytes = 0;
  for (let offset = 0; ;) {
    const read = await apiRead("GET", `${gatherPath(id)}/responses?offset=${offset}&limit=1000`);
    const page = read.parsed;
    bytes += read.bytes;
    for (const r of page.items) if (typeof r.durationMs === "number") durations.push(r.durationMs);
    if (page.nextUri === null || page.items.length === 0) break;
    offset += page.items.length;
  }
  if (id !== state.id) return;
  state.histogramEmpty = durations.length === 0;
  state.histogramEveryMs = everyMs(2000, bytes);
  $("#histogram").textContent = "";
  $("#histogram").append(histogram(durations));
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Answer latencies in equal-width bins: one bar per bin, its count as data-count and a tooltip. */
function histogram(durations) {
  const W = 560,
    H = 180,
    left = 36,
    bottom = 28,
    top = 10;
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": `latency histogram of ${durations.length} answers`,
    "data-total": durations.length,
  });
  if (durations.length === 0) {
    root.append(svg("text", { x: left, y: H / 2 }, "no answers yet"));
    return root;
  }
  const min = Math.min(...durations),
    max = Math.max(...durations);
  const bins = Math.max(1, Math.min(20, Math.ceil(Math.sqrt(durations.length)) + 1));
  const width = Math.max(1, Math.ceil((max - min + 1) / bins));
  const counts = new Array(bins).fill(0);
  for (const d of durations) counts[Math.min(bins - 1, Math.floor((d - min) / width))]++;
  const peak = Math.max(...counts);
  const barW = (W - left - 8) / bins;
  root.append(svg("line", { x1: left, y1: H - bottom, x2: W - 4, y2: H - bottom }));
  counts.forEach((n, i) => {
    const h = ((H - bottom - top) * n) / peak;
    const from = Math.round(min + i * width),
      to = Math.round(min + (i + 1) * width);
    const bar = svg("rect", {
      class: "bar",
      x: left + i * barW + 1,
      y: H - bottom - h,
      width: Math.max(1, barW - 2),
      height: h,
      "data-count": n,
      "data-from": from,
      "data-to": to,
    });
    bar.append(svg("title", {}, `${from}–${to} ms: ${n} answer${n === 1 ? "" : "s"}`));
    root.append(bar);
  });
  root.append(svg("text", { x: left, y: H - 8 }, `${Math.round(min)} ms`));
  root.append(svg("text", { x: W - 4, y: H - 8, "text-anchor": "end" }, `${Math.round(min + bins * width)} ms`));
  root.append(svg("text", { x: left - 4, y: top + 8, "text-anchor": "end" }, String(peak)));
  root.append(svg("text", { x: left - 4, y: H - bottom, "text-anchor": "end" }, "0"));
  return root;
}

// ---------------------------------------------------------------------------------------------- actions

async function act(what, call) {
  setText("#action-state", `${what}…`);
  try {
    await call();
    setText("#action-state", `${what}: done`);
  } catch (error) {
    setText("#action-state", error.message);
  }
}

function wire() {
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("#key").value.trim();
    if (value) sessionStorage.setItem("sg.key", value);
    else sessionStorage.removeItem("sg.key");
    $("#key").value = "";
    showKeyState();
    void refreshRecent();
  });
  $("#start-button").addEventListener("click", () => void start());
  $("#recent-refresh").addEventListener("click", () => void refreshRecent());
  $("#recent-more").addEventListener("click", () => void refreshRecent(true));
  $("#terminate").addEventListener("click", () =>
    act("terminate", async () => {
      await api("POST", `${gatherPath(state.id)}/terminate?reason=${encodeURIComponent("terminated from the gather page")}`);
      clearInterval(state.timer);
      state.timer = setInterval(poll, POLL_MS);
    }),
  );
  $("#redrive").addEventListener("click", () =>
    act("redrive", async () => {
      await api("POST", `${gatherPath(state.id)}/redrive`);
      $("#redrive").hidden = true;
      delete $("#watch").dataset.done;
      clearInterval(state.timer);
      state.timer = setInterval(poll, POLL_MS);
    }),
  );
  $("#delete").addEventListener("click", () =>
    act("delete", async () => {
      if (!confirm(`Delete ${state.id} and its stored payloads?`)) throw new Error("not deleted");
      await api("DELETE", gatherPath(state.id));
      clearInterval(state.timer);
      state.id = null;
      $("#watch").hidden = true;
      history.replaceState(null, "", location.pathname + location.search);
      void refreshRecent();
    }),
  );
  $("#answer-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    setText("#answer-state", "sending…");
    try {
      const value = JSON.parse($("#answer-value").value);
      const answer = await api("POST", `${gatherPath(state.id)}/responses`, JSON.stringify({ responder: $("#responder").value, value }));
      setText("#answer-state", answer.accepted === false ? `not taken: ${answer.reason || "refused"}` : "accepted");
    } catch (error) {
      setText("#answer-state", error.status === 410 ? "too late: the gather is closed" : error.message);
    }
  });
  $("#status-filter").addEventListener("change", (e) => {
    state.filter = e.target.value;
    state.offset = 0;
    state.earlierOffsets = [];
    void renderResponses();
  });
  $("#page-prev").addEventListener("click", () => {
    state.offset = state.earlierOffsets.pop() ?? Math.max(0, state.offset - PAGE_SIZE);
    void renderResponses();
  });
  $("#page-next").addEventListener("click", () => {
    state.earlierOffsets.push(state.offset);
    state.offset = state.nextOffset ?? state.offset + PAGE_SIZE;
    void renderResponses();
  });
  window.addEventListener("hashchange", route);
  setInterval(renderDeadline, 100);
}

/** The gather id the address names (#id), or "" (also for a hand-edited hash that is not valid percent-encoding). */
function hashId() {
  try {
    return decodeURIComponent(location.hash.slice(1));
  } catch {
    return "";
  }
}

function route() {
  const id = hashId();
  if (id && id !== state.id) watch(id);
}

takeKeyFromUrl();
wire();
showKeyState();
void loadExamples().catch((error) => setText("#start-state", `examples: ${error.message}`));
void refreshRecent();
route();
