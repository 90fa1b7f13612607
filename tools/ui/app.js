// actorflow ui: the page's script. Two views chosen by the URL's hash: the runs ("#/", with
// "#/?status=failed") and one run ("#/run/<id>"). Everything comes from the /api/ endpoints of
// `actorflow ui`; names and values from the store are put in the page as text, never as HTML.
// The page polls every 2 s while what it shows is running.
"use strict";

const POLL_MS = 2000;
const PAGE_SIZE = 50;
const STATUSES = ["running", "succeeded", "failed", "cancelled", "interrupted"];

// -- helpers -------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

// An element with a class and text (or children).
function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    throw new Error(`${url}: the server answered ${response.status} without JSON`);
  }
  if (!response.ok) throw new Error(body && body.error ? body.error : `${url}: ${response.status}`);
  return body;
}

function param(name, value) {
  return `${name}=${encodeURIComponent(value)}`;
}

function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m - h * 60} min`;
}

function formatTime(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
         `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function formatCost(dollars) {
  if (!dollars) return "$0";
  return dollars < 0.01 ? `$${dollars.toFixed(6)}` : `$${dollars.toFixed(4)}`;
}

const formatCount = (n) => Number(n).toLocaleString("en-US");

function badge(status) {
  return el("span", `badge ${status}`, status);
}

function showError(id, error) {
  const box = $(id);
  box.textContent = error ? String(error.message || error) : "";
  box.hidden = !error;
}

// -- polling -------------------------------------------------------------------------------

let pollTimer = null;
let route = null; // what the page shows: { view: "runs", status } or { view: "run", id }

function schedulePoll(live) {
  clearTimeout(pollTimer);
  pollTimer = null;
  $("live").hidden = !live;
  if (live) pollTimer = setTimeout(() => render(true), POLL_MS);
}

// -- the run list --------------------------------------------------------------------------

function renderFilters(counts, current) {
  const bar = $("filters");
  bar.replaceChildren();
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const add = (status, label) => {
    const button = el("button", "", label);
    button.type = "button";
    button.setAttribute("aria-pressed", String(status === current));
    button.dataset.status = status;
    button.addEventListener("click", () => {
      location.hash = status ? `#/?${param("status", status)}` : "#/";
    });
    bar.append(button);
  };
  add("", `All ${total}`);
  for (const status of STATUSES) add(status, `${status} ${counts[status] || 0}`);
}

function cell(label, className, ...content) {
  const td = el("td", className, ...content);
  td.dataset.label = label;
  return td;
}

async function renderRuns(status) {
  let data;
  try {
    data = await getJson(`/api/runs${status ? "?" + param("status", status) : ""}`);
  } catch (error) {
    showError("runs-error", error);
    schedulePoll(false);
    return;
  }
  showError("runs-error", null);
  renderFilters(data.counts, status);
  const body = $("runs").tBodies[0];
  body.replaceChildren();
  for (const run of data.runs) {
    const tr = el("tr");
    tr.dataset.runId = run.run_id;
    const link = el("a", "", run.run_id);
    link.href = `#/run/${encodeURIComponent(run.run_id)}`;
    tr.append(
      cell("Run", "id", link),
      cell("Flow", "", run.flow),
      cell("Status", "", badge(run.status)),
      cell("Started", "", formatTime(run.created_ms)),
      cell("Duration", "num", formatDuration(run.duration_ms)),
      cell("Items done", "num", formatCount(run.items_done)),
      cell("Failed", run.items_failed ? "num bad-count" : "num", formatCount(run.items_failed)),
      cell("Tokens", "num", formatCount(run.tokens)),
      cell("Cost", "num", formatCost(run.cost)),
      cell("Interrupts", "num", run.pending_interrupts ? badge(`${run.pending_interrupts} pending`) : "0"));
    tr.addEventListener("click", (event) => {
      if (event.target.closest("a")) return;
      location.hash = link.getAttribute("href");
    });
    body.append(tr);
  }
  $("runs-empty").hidden = data.runs.length > 0;
  $("runs-empty").textContent = status ? `No ${status} runs.` : "No runs in this store yet.";
  schedulePoll(data.runs.some((run) => run.status === "running"));
}

// -- one run: summary ----------------------------------------------------------------------

function renderSummary(data) {
  const run = data.run;
  const box = $("summary");
  box.replaceChildren();
  box.append(el("h1", "", run.run_id, " ", badge(run.status)));
  const facts = el("dl", "facts");
  const fact = (name, value) => facts.append(el("div", "", el("dt", "", name), el("dd", "", value)));
  fact("Flow", run.flow);
  fact("Started", formatTime(run.created_ms));
  fact("Duration", formatDuration(run.duration_ms));
  fact("Steps", formatCount(run.steps));
  if (run.next_node) fact("Next node", run.next_node);
  fact("Items done", formatCount(run.items_done));
  fact("Failed", formatCount(run.items_failed));
  fact("Tokens", formatCount(run.tokens));
  fact("Cost", formatCost(run.cost));
  fact("Pending interrupts", formatCount(run.pending_interrupts));
  box.append(facts);
  if (run.error) box.append(el("p", "error run-error", run.error));
  if (run.items_failed > 0) {
    const button = el("button", "failed-link", `Show the ${formatCount(run.items_failed)} failed items`);
    button.type = "button";
    button.addEventListener("click", () => {
      itemsView.failedOnly = true;
      itemsView.offset = 0;
      $("failed-only").checked = true;
      loadItems().then(() => $("items-panel").scrollIntoView({ behavior: "smooth" }));
    });
    box.append(button);
  }
}

// -- one run: the graph (an SVG drawn by Graphviz on the server) ----------------------------

let graphKey = null; // run id and next node of the SVG shown: redrawn only when they change

async function renderGraph(data) {
  const box = $("graph");
  const key = `${data.run.run_id}\u0000${data.run.next_node}`;
  if (key === graphKey) return;
  graphKey = key;
  const nodes = data.graph ? data.graph.nodes : [];
  try {
    const response = await fetch(`/api/graph.svg?${param("id", data.run.run_id)}`, { cache: "no-store" });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error || `graph: ${response.status}`);
    }
    box.innerHTML = await response.text(); // Graphviz's SVG: labels escaped, no script runs (CSP)
    // Batch nodes open their items: Graphviz titles each node with its DOT id, "nK", the K-th
    // node of the recorded graph.
    for (const g of box.querySelectorAll("g.node")) {
      const title = g.querySelector("title");
      const index = title ? Number(title.textContent.replace(/^n/, "")) : NaN;
      const node = nodes[index];
      if (!node) continue;
      g.dataset.path = node.path;
      if (node.kind === "batch") {
        g.classList.add("batch");
        g.addEventListener("click", () => {
          itemsView.node = node.path;
          itemsView.offset = 0;
          loadItems().then(() => $("items-panel").scrollIntoView({ behavior: "smooth" }));
        });
      }
    }
  } catch (error) {
    graphKey = null;
    box.replaceChildren(el("p", "error", error.message));
    if (nodes.length) {
      const list = el("ul", "fallback");
      for (const node of nodes) list.append(el("li", "", node.path, node.kind !== "node" ? ` (${node.kind})` : ""));
      box.append(list);
    }
  }
}

// -- one run: the items --------------------------------------------------------------------

const itemsView = { runId: null, node: "", failedOnly: false, offset: 0 };

function renderNodeTabs(nodes) {
  const tabs = $("item-nodes");
  tabs.replaceChildren();
  if (nodes.length <= 1 && !itemsView.node) return;
  const add = (path, label) => {
    const button = el("button", "", label);
    button.type = "button";
    button.setAttribute("role", "tab");
    button.setAttribute("aria-selected", String(path === itemsView.node));
    button.addEventListener("click", () => {
      itemsView.node = path;
      itemsView.offset = 0;
      loadItems();
    });
    tabs.append(button);
  };
  add("", "All nodes");
  for (const node of nodes) {
    add(node.node, `${node.node || "(unnamed)"} ${formatCount(node.done)}${node.failed ? `, ${formatCount(node.failed)} failed` : ""}`);
  }
}

async function loadItems() {
  const query = [param("id", itemsView.runId), param("offset", itemsView.offset), param("limit", PAGE_SIZE)];
  if (itemsView.node) query.push(param("node", itemsView.node));
  if (itemsView.failedOnly) query.push("failed=1");
  let page;
  try {
    page = await getJson(`/api/items?${query.join("&")}`);
  } catch (error) {
    $("items-empty").hidden = false;
    $("items-empty").textContent = error.message;
    return;
  }
  renderNodeTabs(page.nodes);
  const body = $("items").tBodies[0];
  body.replaceChildren();
  for (const item of page.items) {
    const tr = el("tr", item.ok ? "ok" : "failed");
    const detail = item.ok ? item.value : `${item.error.code}: ${item.error.message}`;
    tr.append(
      cell("#", "num", item.index),
      cell("Status", "", badge(item.ok ? "ok" : "failed")),
      cell("Attempts", "num", item.attempts),
      cell("Latency", "num", formatDuration(item.latency_ms)),
      cell("Tokens", "num", formatCount(item.tokens)),
      cell("Ran on", "", item.ran_on),
      cell(item.ok ? "Value" : "Error", "detail", detail));
    if (!itemsView.node && page.nodes.length > 1) tr.title = item.node;
    body.append(tr);
  }
  const empty = $("items-empty");
  empty.hidden = page.items.length > 0;
  empty.textContent = itemsView.failedOnly ? "No failed items." : "No items committed (this run has no batch, or none has finished an item).";
  const last = Math.min(page.offset + page.items.length, page.total);
  $("page-info").textContent = page.total ? `${formatCount(page.offset + 1)}–${formatCount(last)} of ${formatCount(page.total)}` : "";
  $("items-prev").disabled = page.offset === 0;
  $("items-next").disabled = last >= page.total;
  $("pager").hidden = page.total <= PAGE_SIZE;
}

// -- one run: the State as a tree ------------------------------------------------------------

function treeNode(key, value, depth) {
  const li = el("li");
  const keyPart = key === null ? null : el("span", "key", key);
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    const details = el("details");
    details.open = depth < 1 || entries.length <= 8 && depth < 3;
    const count = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
    details.append(el("summary", "", keyPart, keyPart ? ": " : "", el("span", "count", count)));
    const list = el("ul");
    // A huge array would freeze the page: the first 500 entries, and a count of the rest.
    for (const [k, v] of entries.slice(0, 500)) list.append(treeNode(k, v, depth + 1));
    if (entries.length > 500) list.append(el("li", "count", `… ${formatCount(entries.length - 500)} more`));
    details.append(list);
    li.append(details);
    return li;
  }
  const type = value === null ? "null" : typeof value === "boolean" ? "bool" : typeof value;
  li.append(keyPart, keyPart ? ": " : "", el("span", type, type === "string" ? JSON.stringify(value) : String(value)));
  return li;
}

async function renderState(runId) {
  const box = $("state");
  try {
    const data = await getJson(`/api/state?${param("id", runId)}`);
    $("state-of").textContent = `(${data.of === "initial" ? "initial" : "after " + data.of})`;
    const root = el("ul");
    const state = data.state || {};
    const keys = Object.keys(state);
    for (const key of keys) root.append(treeNode(key, state[key], 0));
    box.replaceChildren(keys.length ? root : el("p", "empty", "The State is empty."));
  } catch (error) {
    box.replaceChildren(el("p", "error", error.message));
  }
}

// -- one run: interrupts -------------------------------------------------------------------

function renderInterrupts(interrupts) {
  $("interrupts-panel").hidden = interrupts.length === 0;
  const list = $("interrupts");
  list.replaceChildren();
  for (const interrupt of interrupts) {
    const where = interrupt.item === null ? interrupt.node : `${interrupt.node} item ${interrupt.item}`;
    const li = el("li", "", badge(interrupt.status), " ", where, ": ",
                  el("code", "", JSON.stringify(interrupt.question)));
    if (interrupt.status !== "pending") li.append(" → ", el("code", "", JSON.stringify(interrupt.answer)));
    else li.append(el("div", "muted", `answer: actorflow runs --db … answer ${interrupt.id} '<json>'`));
    list.append(li);
  }
}

// -- one run: the timeline of its trace ----------------------------------------------------

const KINDS = ["flow", "node", "item", "attempt", "backoff", "grant_wait", "model_call"];
const KIND_COLORS = { flow: "#475467", node: "#2f5fd0", item: "#12a594", attempt: "#7a5af8", backoff: "#f79009", grant_wait: "#98a2b3", model_call: "#dd2590" };

async function renderTimeline(runId, hasTrace) {
  const box = $("timeline");
  if (!hasTrace) {
    box.replaceChildren(el("p", "empty", "No trace of this run (start the tool with --traces DIR; runs write it with RuntimeConfig::trace_dir)."));
    return;
  }
  let trace;
  try {
    trace = await getJson(`/api/trace?${param("id", runId)}`);
  } catch (error) {
    box.replaceChildren(el("p", "error", error.message));
    return;
  }
  const spans = trace.spans;
  if (!spans.length) {
    box.replaceChildren(el("p", "empty", "The trace holds no spans."));
    return;
  }
  const start = Math.min(...spans.map((s) => s.start_us));
  const end = Math.max(...spans.map((s) => s.start_us + s.dur_us));
  const total = Math.max(end - start, 1);
  // Rows as the trace names them (the flow, then item slots), each split into depths so that
  // nested spans (a node inside its flow, an attempt inside its item) sit under their parent.
  const byRow = new Map();
  for (const span of spans) {
    if (!byRow.has(span.row)) byRow.set(span.row, []);
    byRow.get(span.row).push(span);
  }
  const rows = [...byRow.keys()].sort((a, b) => Number(a) - Number(b));
  const frag = document.createDocumentFragment();
  const axis = el("div", "axis", el("span", "", "0"), el("span", "", formatDuration(total / 1000)));
  axis.style.marginLeft = "90px";
  frag.append(axis);
  for (const row of rows) {
    const list = byRow.get(row).sort((a, b) => a.start_us - b.start_us || b.dur_us - a.dur_us);
    const ends = []; // the end of the last span at each depth
    const bars = el("div", "lane-bars");
    let depths = 1;
    for (const span of list) {
      let depth = ends.findIndex((e) => e <= span.start_us);
      if (depth < 0) depth = ends.length;
      ends[depth] = span.start_us + span.dur_us;
      depths = Math.max(depths, depth + 1);
      const bar = el("div", `bar ${KINDS.includes(span.kind) ? span.kind : "node"}${span.error ? " error" : ""}`);
      bar.style.left = `${((span.start_us - start) / total) * 100}%`;
      bar.style.width = `${Math.max((span.dur_us / total) * 100, 0.05)}%`;
      bar.style.top = `${depth * 14 + 2}px`;
      bar.textContent = span.name;
      let tip = `${span.kind} ${span.name}\n${formatDuration(span.dur_us / 1000)} from ${formatDuration((span.start_us - start) / 1000)}`;
      if (span.item !== undefined) tip += `\nitem ${span.item}`;
      if (span.attempt) tip += `\nattempt ${span.attempt}`;
      if (span.error) tip += `\nerror: ${span.error}`;
      bar.title = tip;
      bars.append(bar);
    }
    bars.style.height = `${depths * 14 + 4}px`;
    const name = trace.rows[row] || `row ${row}`;
    const lane = el("div", "lane", el("div", "lane-name", name), bars);
    lane.querySelector(".lane-name").title = name;
    frag.append(lane);
  }
  const legend = el("div", "legend");
  for (const kind of KINDS) {
    const item = el("span", "", kind.replace("_", " "));
    item.style.setProperty("--c", KIND_COLORS[kind]);
    legend.append(item);
  }
  frag.append(legend);
  if (trace.truncated) frag.append(el("p", "muted", "The trace is long: its first 20,000 spans are shown."));
  box.replaceChildren(frag);
}

// -- one run -------------------------------------------------------------------------------

async function renderRun(runId, refresh) {
  let data;
  try {
    data = await getJson(`/api/run?${param("id", runId)}`);
  } catch (error) {
    showError("run-error", error);
    $("summary").replaceChildren();
    schedulePoll(false);
    return;
  }
  showError("run-error", null);
  document.title = `${runId} · actorflow`;
  if (!refresh || itemsView.runId !== runId) {
    itemsView.runId = runId;
    itemsView.node = "";
    itemsView.failedOnly = false;
    itemsView.offset = 0;
    $("failed-only").checked = false;
    graphKey = null;
  }
  renderSummary(data);
  renderInterrupts(data.interrupts);
  await Promise.all([renderGraph(data), loadItems(), renderState(runId),
                     renderTimeline(runId, data.has_trace)]);
  schedulePoll(data.run.status === "running");
}

// -- routing -------------------------------------------------------------------------------

function parseRoute() {
  const hash = location.hash || "#/";
  if (hash.startsWith("#/run/")) return { view: "run", id: decodeURIComponent(hash.slice(6)) };
  const query = new URLSearchParams(hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "");
  return { view: "runs", status: query.get("status") || "" };
}

async function render(refresh) {
  const next = parseRoute();
  const same = route && route.view === next.view && route.id === next.id;
  route = next;
  $("runs-view").hidden = route.view !== "runs";
  $("run-view").hidden = route.view !== "run";
  if (route.view === "runs") {
    document.title = "actorflow runs";
    await renderRuns(route.status);
  } else {
    await renderRun(route.id, refresh && same);
  }
  // For tests: what is shown, and that its first render is complete (a hash change clears it).
  document.body.dataset.hash = location.hash || "#/";
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  $("failed-only").addEventListener("change", (event) => {
    itemsView.failedOnly = event.target.checked;
    itemsView.offset = 0;
    loadItems();
  });
  $("items-prev").addEventListener("click", () => {
    itemsView.offset = Math.max(0, itemsView.offset - PAGE_SIZE);
    loadItems();
  });
  $("items-next").addEventListener("click", () => {
    itemsView.offset += PAGE_SIZE;
    loadItems();
  });
  window.addEventListener("hashchange", () => {
    clearTimeout(pollTimer);
    delete document.body.dataset.ready;
    render(false);
  });
  render(false);
});
