// The status page's script: plain browser JavaScript, no build step, talking
// only to this gateway (/v1/model, /metrics, /v1/softmax).

const $ = (id) => document.getElementById(id);
let dim = 0;

function text(el, value) {
  el.textContent = value;
}

// --- model and shard map, from /v1/model ---------------------------------

function renderModel(view) {
  const model = view.model;
  dim = model ? model.dim : 0;
  text($("model-v"), model ? String(model.vocabSize) : "–");
  text($("model-d"), model ? String(model.dim) : "–");
  text($("model-fingerprint"), model ? model.fingerprint : "–");
  text($("model-labels"), view.labels ? `${view.labels.kind}, ${view.labels.count} (${view.labels.source})` : "none (class ids)");
  const badge = $("ready");
  badge.className = `badge ${view.ready ? "ok" : "down"}`;
  text(badge, view.ready ? "ready" : `not ready: ${view.reason}`);
  const body = $("shard-map").querySelector("tbody");
  body.replaceChildren(
    ...view.ranges.map((r) => {
      const row = document.createElement("tr");
      const label = `[${r.start}, ${r.end})`;
      const healthy = r.replicas.some((x) => x.healthy);
      row.dataset.range = label;
      row.dataset.health = healthy ? "healthy" : "unhealthy";
      const cells = [label, String(r.end - r.start)].map((v) => {
        const td = document.createElement("td");
        td.textContent = v;
        return td;
      });
      const replicas = document.createElement("td");
      for (const x of r.replicas) {
        const span = document.createElement("span");
        span.className = `replica ${x.healthy ? "ok" : "down"}`;
        span.textContent = x.healthy ? x.address : `${x.address}: ${x.error || "down"}`;
        const loading = /loading (\d+)%/.exec(x.error || "");
        if (loading) {
          const bar = document.createElement("span");
          bar.className = "progress";
          bar.title = `loading ${loading[1]}%`;
          const fill = document.createElement("span");
          fill.style.width = `${loading[1]}%`;
          bar.append(fill);
          span.append(" ", bar);
        }
        replicas.append(span);
      }
      const health = document.createElement("td");
      health.textContent = healthy ? `healthy (${r.replicas.filter((x) => x.healthy).length}/${r.replicas.length})` : "unhealthy";
      row.append(...cells, replicas, health);
      return row;
    }),
  );
}

async function refreshModel() {
  try {
    const res = await fetch("/v1/model", { cache: "no-store" });
    renderModel(await res.json());
  } catch (err) {
    const badge = $("ready");
    badge.className = "badge down";
    text(badge, `gateway unreachable: ${err.message}`);
  }
}

// --- rates and quantiles, from the gateway's own /metrics -------------------

/** The samples of a Prometheus text exposition: [{ name, labels, value }]. */
function parseMetrics(body) {
  const samples = [];
  for (const line of body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    samples.push({ name: m[1], labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  return samples;
}

const sum = (samples, name) => samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);

/** Cumulative bucket counts by upper bound, summed over every protocol. */
function buckets(samples) {
  const byLe = new Map();
  for (const s of samples) {
    if (s.name !== "shardmax_request_duration_seconds_bucket") continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) || 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]);
}

/** Prometheus' histogram_quantile: linear within the bucket that holds the rank. */
function quantile(q, cumulative) {
  const total = cumulative.length ? cumulative[cumulative.length - 1][1] : 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of cumulative) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(count - below, 1e-12);
    }
    lower = le;
    below = count;
  }
  return lower;
}

const ms = (seconds) => (seconds === null ? "–" : seconds < 0.01 ? `${(seconds * 1000).toFixed(2)} ms` : `${(seconds * 1000).toFixed(1)} ms`);
let previous = null;

async function refreshMetrics() {
  let samples;
  try {
    samples = parseMetrics(await (await fetch("/metrics", { cache: "no-store" })).text());
  } catch {
    return;
  }
  const now = {
    at: performance.now(),
    requests: sum(samples, "shardmax_requests_total"),
    rows: sum(samples, "shardmax_rows_total"),
    buckets: buckets(samples),
  };
  text($("healthy"), `${sum(samples, "shardmax_ranges_healthy")} of ${sum(samples, "shardmax_ranges")}`);
  if (previous) {
    const seconds = (now.at - previous.at) / 1000;
    text($("rate"), ((now.requests - previous.requests) / seconds).toFixed(1));
    text($("rows-rate"), ((now.rows - previous.rows) / seconds).toFixed(1));
    // Quantiles over the last interval when it saw requests, else since the gateway started.
    const old = new Map(previous.buckets);
    const window = now.buckets.map(([le, c]) => [le, c - (old.get(le) || 0)]);
    const recent = window.length && window[window.length - 1][1] > 0 ? window : now.buckets;
    text($("p50"), ms(quantile(0.5, recent)));
    text($("p99"), ms(quantile(0.99, recent)));
  }
  previous = now;
}

// --- try it -------------------------------------------------------------------

function randomVector() {
  const values = [];
  for (let i = 0; i < dim; i++) {
    // Box–Muller: a standard normal, like a hidden state's entries.
    const u = 1 - Math.random();
    values.push(Number((Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random())).toFixed(4)));
  }
  $("tryit-hidden").value = JSON.stringify(values);
}

function readVector() {
  const raw = $("tryit-hidden").value.trim();
  const values = raw.startsWith("[")
    ? JSON.parse(raw)
    : raw
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(Number);
  if (!Array.isArray(values) || values.some((v) => typeof v !== "number" || !Number.isFinite(v))) throw new Error("the vector must be numbers");
  return values;
}

async function run() {
  text($("tryit-error"), "");
  let hidden;
  try {
    hidden = readVector();
  } catch (err) {
    text($("tryit-error"), err.message);
    return;
  }
  const topK = Number($("tryit-topk").value) || 10;
  const res = await fetch("/v1/softmax", {
    method: "POST",
    headers: { "content-type": "application/json", "x-shardmax-timing": "ranges" },
    body: JSON.stringify({ hidden: [hidden], topK }),
  });
  const body = await res.json();
  if (!res.ok) {
    text($("tryit-error"), `${body.error.code}: ${body.error.message}`);
    return;
  }
  const result = body.results[0];
  text($("tryit-logz"), result.logZ.toFixed(6));
  const best = result.top.length ? result.top[0].prob : 1;
  $("tryit-top").replaceChildren(
    ...result.top.map((t) => {
      const li = document.createElement("li");
      li.dataset.id = String(t.id);
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = t.label === undefined ? `#${t.id}` : `#${t.id} ${JSON.stringify(t.label)}`;
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = `${(100 * t.prob) / best}%`;
      const prob = document.createElement("span");
      prob.textContent = t.prob.toFixed(4);
      li.append(name, bar, prob);
      return li;
    }),
  );
  const timing = res.headers.get("server-timing") || "";
  $("tryit-ranges").replaceChildren(
    // desc holds "[start, end)", commas included: match entries, do not split on commas.
    ...[...timing.matchAll(/dur=([\d.]+);desc="([^"]*)"/g)].map((m) => {
      const li = document.createElement("li");
      li.textContent = `${m[2]}: ${m[1]} ms`;
      return li;
    }),
  );
}

$("tryit-random").addEventListener("click", randomVector);
$("tryit-run").addEventListener("click", () => void run().catch((err) => text($("tryit-error"), err.message)));
refreshModel().then(() => {
  if ($("tryit-hidden").value === "") randomVector();
});
refreshMetrics();
setInterval(refreshModel, 1000);
setInterval(refreshMetrics, 2000);
