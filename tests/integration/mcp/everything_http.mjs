// The MCP reference server (@modelcontextprotocol/server-everything) over Streamable HTTP,
// listening on 127.0.0.1 only (its own launcher listens on every interface), on a free port
// that it prints as its first line. The server and the transport are the packages' own; only
// the listening socket is ours. Usage: node everything_http.mjs <node_modules folder>
import http from "node:http";
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const load = (path) => import(pathToFileURL(`${modules}/@modelcontextprotocol/${path}`).href);
const { createServer } = await load("server-everything/dist/server/index.js");
const { StreamableHTTPServerTransport } = await load("sdk/dist/esm/server/streamableHttp.js");

const sessions = new Map();
const listener = http.createServer(async (req, res) => {
  if (req.url !== "/mcp") {
    res.writeHead(404).end();
    return;
  }
  let body = "";
  for await (const chunk of req) body += chunk;
  const id = req.headers["mcp-session-id"];
  let transport = id ? sessions.get(id) : undefined;
  if (!transport) {
    if (id) {
      res.writeHead(404).end(); // a session this server does not know
      return;
    }
    const { server } = createServer();
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => sessions.set(sid, transport),
    });
    await server.connect(transport);
  }
  await transport.handleRequest(req, res, body ? JSON.parse(body) : undefined);
});
listener.listen(0, "127.0.0.1", () => console.log(listener.address().port));
