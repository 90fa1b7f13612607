// A loopback OTLP/HTTP receiver for the exporter's tests. Every request is decoded with
// OpenTelemetry's own protobuf definitions (@opentelemetry/otlp-transformer's generated
// root, from npm: tools/otlp): the JSON must verify as an ExportTraceServiceRequest, and
// every key in it must survive a protobuf round trip (a misspelt field would vanish).
//
//   node receiver.mjs <tools/otlp/node_modules> <mode>
//   mode: ok          answers 200
//         503:<n>     answers the first n requests 503 (Retry-After: 1), then 200
//         stall       takes every request and never answers
// Prints its port on its first line. GET /summary: what it decoded, as JSON.
// Stops on SIGTERM (and with its parent: the tests start it with PR_SET_PDEATHSIG).
import { createRequire } from "node:module";
import http from "node:http";
import path from "node:path";

const [modules, mode = "ok"] = process.argv.slice(2);
const require = createRequire(path.join(modules, "noop.js"));
const root = require(
  path.join(modules, "@opentelemetry/otlp-transformer/build/src/generated/root.js"));
const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

const unavailable = mode.startsWith("503:") ? Number(mode.slice(4)) : 0;
const summary = { requests: 0, answered_503: 0, spans: [], errors: [] };

// OTLP's JSON writes ids as hex, where protobuf's JSON mapping has base64: turn them into
// bytes first (the OTLP specification's one exception to the mapping).
const idFields = new Set(["traceId", "spanId", "parentSpanId"]);
const longFields = /UnixNano$|^intValue$/;
function withIdBytes(value) {
  if (Array.isArray(value)) return value.map(withIdBytes);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [key, inner] of Object.entries(value)) {
    if (idFields.has(key)) {
      if (typeof inner !== "string" || !/^([0-9a-f]{2})*$/.test(inner))
        throw new Error(`${key} is not lower-case hex: ${JSON.stringify(inner)}`);
      out[key] = Buffer.from(inner, "hex");
    } else if (longFields.test(key)) {
      // 64-bit integers: decimal strings in protobuf's JSON mapping (numbers are allowed too).
      if (!(typeof inner === "number" || /^-?[0-9]+$/.test(inner)))
        throw new Error(`${key} is not a 64-bit integer: ${JSON.stringify(inner)}`);
      out[key] = inner;
    } else out[key] = withIdBytes(inner);
  }
  return out;
}

// Every key of `sent` must be a field the definitions know: it is then in `decoded`.
function unknownKeys(sent, decoded, where, found) {
  if (Array.isArray(sent)) {
    sent.forEach((item, i) => unknownKeys(item, decoded?.[i], `${where}[${i}]`, found));
    return found;
  }
  if (sent === null || typeof sent !== "object" || Buffer.isBuffer(sent)) return found;
  for (const [key, inner] of Object.entries(sent)) {
    if (decoded === undefined || decoded === null || !(key in decoded))
      found.push(`${where}.${key}`);
    else unknownKeys(inner, decoded[key], `${where}.${key}`, found);
  }
  return found;
}

function plain(anyValue) {
  if (anyValue.stringValue !== undefined && anyValue.stringValue !== null)
    return anyValue.stringValue;
  if (anyValue.intValue !== undefined && anyValue.intValue !== null)
    return Number(anyValue.intValue);
  if (anyValue.boolValue !== undefined && anyValue.boolValue !== null) return anyValue.boolValue;
  if (anyValue.doubleValue !== undefined && anyValue.doubleValue !== null)
    return anyValue.doubleValue;
  if (anyValue.arrayValue) return anyValue.arrayValue.values.map(plain);
  return null;
}
const attributes = (list) => Object.fromEntries((list ?? []).map((a) => [a.key, plain(a.value)]));
const hex = (bytes) => Buffer.from(bytes ?? []).toString("hex");

function decode(body) {
  const sent = withIdBytes(JSON.parse(body));
  const built = Request.fromObject(sent); // throws on a value of the wrong type
  const invalid = Request.verify(built);
  if (invalid) throw new Error(`not an ExportTraceServiceRequest: ${invalid}`);
  const message = Request.decode(Request.encode(built).finish());
  const decoded = Request.toObject(message, { longs: String, defaults: true, arrays: true });
  const unknown = unknownKeys(sent, decoded, "request", []);
  if (unknown.length) throw new Error(`fields OTLP does not have: ${unknown.join(", ")}`);
  for (const resource of message.resourceSpans)
    for (const scope of resource.scopeSpans)
      for (const span of scope.spans)
        summary.spans.push({
          service: attributes(resource.resource?.attributes)["service.name"],
          scope: scope.scope?.name,
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name,
          kind: span.kind,
          start: String(span.startTimeUnixNano),
          end: String(span.endTimeUnixNano),
          attributes: attributes(span.attributes),
          status: { code: span.status?.code ?? 0, message: span.status?.message ?? "" },
        });
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/summary") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify(summary));
    return;
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    if (req.method !== "POST" || req.url !== "/v1/traces") {
      res.writeHead(404).end();
      return;
    }
    summary.requests += 1;
    if (mode === "stall") return; // the connection stays open, unanswered
    if (summary.answered_503 < unavailable) {
      summary.answered_503 += 1;
      res.writeHead(503, { "Retry-After": "1" }).end("busy");
      return;
    }
    if (req.headers["content-type"] !== "application/json") {
      summary.errors.push(`content-type ${req.headers["content-type"]}`);
      res.writeHead(415).end();
      return;
    }
    try {
      decode(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    } catch (error) {
      summary.errors.push(String(error.message ?? error));
      res.writeHead(400, { "Content-Type": "application/json" }).end(
        JSON.stringify({ message: String(error.message ?? error) }));
    }
  });
});

server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("SIGTERM", () => process.exit(0));
