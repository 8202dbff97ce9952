// bench/delay_proxy.mjs PORT RTT_MS: an HTTP CONNECT proxy on 127.0.0.1:PORT
// that answers CONNECT after RTT_MS (the TCP handshake a direct connection
// would take) and then delays every chunk of the tunnel by RTT_MS/2 in each
// direction, so a client configured with "proxy = http://127.0.0.1:PORT" sees
// the issuer RTT_MS away. Prints "listening" when ready.
import net from "node:net";

const [port, rtt] = process.argv.slice(2).map(Number);
const half = rtt / 2;
// Same delay for every chunk, so timers fire in order and the stream stays intact.
const pipe = (from, to) =>
	from.on("data", (d) => (half ? setTimeout(() => to.write(d), half) : to.write(d)))
		.on("end", () => setTimeout(() => to.end(), half))
		.on("error", () => to.destroy());

net.createServer((client) => {
	let head = Buffer.alloc(0);
	const onHead = (d) => {
		head = Buffer.concat([head, d]);
		const end = head.indexOf("\r\n\r\n");
		if (end < 0) return;
		client.off("data", onHead);
		const m = /^CONNECT ([^:\s]+):(\d+) HTTP/.exec(head.toString("latin1"));
		if (!m) return client.end("HTTP/1.1 400 Bad Request\r\n\r\n");
		const up = net.connect(Number(m[2]), m[1], () => {
			setTimeout(() => client.write("HTTP/1.1 200 Connection established\r\n\r\n"), rtt);
			const rest = head.subarray(end + 4);
			if (rest.length) setTimeout(() => up.write(rest), half);
			pipe(client, up);
			pipe(up, client);
		});
		up.on("error", () => client.destroy());
	};
	client.on("data", onHead).on("error", () => {});
}).listen(port, "127.0.0.1", () => console.log("listening"));
