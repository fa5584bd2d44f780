// A small but real authoritative DNS server for tests: UDP and TCP on one port, zone data added
// in code, and per-name knobs that make it misbehave the ways cluster DNS does (SERVFAIL, REFUSED,
// silence). Real `dig` is pointed at it, so its answers must be well-formed on the wire.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question, SrvData } from 'dns-packet';

export type ZoneRecordType = 'A' | 'AAAA' | 'CNAME' | 'SRV' | 'TXT' | 'PTR';

/** Value of a record: a string for A/AAAA/CNAME/PTR, one or more strings for TXT, SrvData for SRV. */
export type ZoneRecordValue = string | string[] | SrvData;

export interface ZoneRecord {
  name: string;
  type: ZoneRecordType;
  value: ZoneRecordValue;
  ttl: number;
}

export interface ReceivedQuery {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
  /** The response code sent back, or 'dropped' when the server stayed silent. */
  outcome: string;
}

export interface DnsServerOptions {
  host?: string;
  /** 0 picks a random free port; UDP and TCP always share it. */
  port?: number;
  /** Names this server is authoritative for; anything else is REFUSED. */
  zones?: string[];
}

type Behaviour = 'servfail' | 'refuse' | 'drop';
// The zone apex implicitly holds an SOA record besides what tests add.
type HeldRecord = ZoneRecord | { name: string; type: 'SOA'; ttl: number };

const DEFAULT_TTL = 30;
const SOA_TTL = 5;
// Plain DNS over UDP is limited to 512 bytes unless the client advertises more with EDNS.
const CLASSIC_UDP_LIMIT = 512;
const OUR_EDNS_UDP_SIZE = 1232;
const MAX_CNAME_HOPS = 8;

// rcode values live in the low 4 bits of the header flags.
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
type RcodeName = keyof typeof RCODE;

/** Lower-case, no trailing dot: the one spelling used for every lookup. */
function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function isAtOrBelow(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

export class DnsServer {
  readonly queries: ReceivedQuery[] = [];
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly zones: string[];
  private readonly records = new Map<string, ZoneRecord[]>();
  private readonly behaviours = new Map<string, Behaviour>();
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();
  private boundPort = 0;

  constructor({ host = '127.0.0.1', port = 0, zones = ['cluster.local'] }: DnsServerOptions = {}) {
    this.host = host;
    this.requestedPort = port;
    this.zones = zones.map(canonical);
  }

  /** Where the server listens; the port is only known after start(). */
  get address(): { host: string; port: number } {
    return { host: this.host, port: this.boundPort };
  }

  addRecord(name: string, type: 'A' | 'AAAA' | 'CNAME' | 'PTR', value: string, ttl?: number): this;
  addRecord(name: string, type: 'TXT', value: string | string[], ttl?: number): this;
  addRecord(name: string, type: 'SRV', value: SrvData, ttl?: number): this;
  addRecord(name: string, type: ZoneRecordType, value: ZoneRecordValue, ttl = DEFAULT_TTL): this {
    const key = canonical(name);
    if (!this.zoneOf(key)) throw new Error(`${name} is outside this server's zones (${this.zones.join(', ')})`);
    // Catch bad test data here rather than as an encoding error in the middle of a query.
    if ((type === 'A' || type === 'AAAA') && !(typeof value === 'string' && (type === 'A' ? net.isIPv4(value) : net.isIPv6(value)))) {
      throw new Error(`${typeof value === 'string' ? value : JSON.stringify(value)} is not a valid ${type} value`);
    }
    const list = this.records.get(key) ?? [];
    list.push({ name: key, type, value, ttl });
    this.records.set(key, list);
    return this;
  }

  /** Answer SERVFAIL for this exact name, as a broken upstream would. */
  servfail(name: string): this {
    this.behaviours.set(canonical(name), 'servfail');
    return this;
  }

  /** Answer REFUSED for this exact name. */
  refuse(name: string): this {
    this.behaviours.set(canonical(name), 'refuse');
    return this;
  }

  /** Never answer queries for this exact name, so clients time out. */
  drop(name: string): this {
    this.behaviours.set(canonical(name), 'drop');
    return this;
  }

  async start(): Promise<void> {
    if (this.udp) throw new Error('DnsServer already started');
    // With port 0 the UDP socket picks the port and TCP must get the same one; another process
    // may hold that TCP port, so retry with a fresh UDP port a few times.
    for (let attempt = 0; ; attempt++) {
      const udp = await this.bindUdp(this.requestedPort);
      const port = udp.address().port;
      try {
        this.tcp = await this.listenTcp(port);
        this.udp = udp;
        this.boundPort = port;
        return;
      } catch (err) {
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        if (this.requestedPort !== 0 || attempt >= 5) throw err;
      }
    }
  }

  async stop(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    await Promise.all([udp && new Promise<void>((resolve) => udp.close(() => resolve())), tcp && new Promise<void>((resolve) => tcp.close(() => resolve()))]);
  }

  private bindUdp(port: number): Promise<dgram.Socket> {
    const socket = dgram.createSocket(net.isIPv6(this.host) ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, this.host, () => {
        socket.off('error', reject);
        // A bad datagram must never take the test process down.
        socket.on('error', () => {});
        socket.on('message', (msg, rinfo) => {
          const reply = this.safeHandle(msg, 'udp');
          if (reply) socket.send(reply, rinfo.port, rinfo.address);
        });
        resolve(socket);
      });
    });
  }

  private listenTcp(port: number): Promise<net.Server> {
    const server = net.createServer((socket) => this.serveTcp(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  // DNS over TCP: each message is prefixed with its 2-byte length; a client may send several.
  private serveTcp(socket: net.Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const reply = this.safeHandle(message, 'tcp');
        if (reply) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([prefix, reply]));
        }
      }
    });
  }

  /** A bug in here must show up as a missing answer in the test, not crash the test process. */
  private safeHandle(message: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    try {
      return this.handle(message, transport);
    } catch (err) {
      console.error('DnsServer could not answer a query:', err);
      return undefined;
    }
  }

  /** Build the wire reply for one query, or undefined to stay silent. */
  private handle(message: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return undefined; // not DNS: a real server ignores it too
    }
    const question = query.questions?.[0];
    if (query.type !== 'query' || !question) return undefined;

    const name = canonical(question.name);
    const record = (outcome: string) => this.queries.push({ name, type: question.type, transport, outcome });
    const behaviour = this.behaviours.get(name);
    if (behaviour === 'drop') {
      record('dropped');
      return undefined;
    }

    let rcode: RcodeName;
    let answers: Answer[] = [];
    let authorities: Answer[] = [];
    if (behaviour === 'servfail') rcode = 'SERVFAIL';
    else if (behaviour === 'refuse' || !this.zoneOf(name)) rcode = 'REFUSED';
    else ({ rcode, answers, authorities } = this.resolve(question));
    record(rcode);

    const clientOpt = query.additionals?.find((a) => a.type === 'OPT');
    const response: Packet = {
      type: 'response',
      id: query.id ?? 0,
      // Authoritative only; RD is echoed and RA left clear, like any authoritative server.
      flags: dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | RCODE[rcode],
      questions: [question],
      answers,
      authorities,
      // Answer EDNS with EDNS, as real servers do (dig prints the OPT pseudosection).
      additionals: clientOpt ? [{ type: 'OPT', name: '.', udpPayloadSize: OUR_EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
    };
    const wire = dnsPacket.encode(response);

    // Too big for a UDP reply (the smaller of the client's and our EDNS size, at least 512 bytes):
    // send an empty truncated reply so the client retries over TCP.
    const clientSize = clientOpt?.type === 'OPT' ? clientOpt.udpPayloadSize : 0;
    const udpLimit = Math.max(Math.min(clientSize, OUR_EDNS_UDP_SIZE), CLASSIC_UDP_LIMIT);
    if (transport === 'udp' && wire.length > udpLimit) {
      return dnsPacket.encode({ ...response, flags: (response.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [] });
    }
    return wire;
  }

  /** Look a question up in the zone data, following CNAMEs that stay inside our zones. */
  private resolve(question: Question): { rcode: RcodeName; answers: Answer[]; authorities: Answer[] } {
    const answers: Answer[] = [];
    let name = canonical(question.name);
    for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
      const zone = this.zoneOf(name);
      // The chain left our zones: give what we have, the client resolves the rest elsewhere.
      if (!zone) return { rcode: 'NOERROR', answers, authorities: [] };
      const here = this.recordsAt(name, zone);
      const matching = here.filter((r) => r.type === question.type);
      if (matching.length > 0) {
        answers.push(...matching.map((r) => this.toAnswer(r)));
        return { rcode: 'NOERROR', answers, authorities: [] };
      }
      const cname = here.find((r): r is ZoneRecord => r.type === 'CNAME');
      if (cname && question.type !== 'CNAME') {
        answers.push(this.toAnswer(cname));
        name = canonical(cname.value as string);
        continue;
      }
      // Negative answers carry the zone's SOA so resolvers can cache them (RFC 2308).
      const soa = [this.soaOf(zone)];
      // A name "exists" if it has records or something below it does (an empty non-terminal).
      return this.nameExists(name, zone) ? { rcode: 'NOERROR', answers, authorities: soa } : { rcode: 'NXDOMAIN', answers, authorities: soa };
    }
    // A CNAME loop: real servers give up with SERVFAIL.
    return { rcode: 'SERVFAIL', answers: [], authorities: [] };
  }

  private recordsAt(name: string, zone: string): HeldRecord[] {
    const own = this.records.get(name) ?? [];
    return name === zone ? [...own, { name, type: 'SOA', ttl: SOA_TTL }] : own;
  }

  private nameExists(name: string, zone: string): boolean {
    if (name === zone) return true;
    for (const key of this.records.keys()) if (isAtOrBelow(key, name)) return true;
    return false;
  }

  /** The most specific zone containing the name, if any. */
  private zoneOf(name: string): string | undefined {
    return this.zones.filter((z) => isAtOrBelow(name, z)).sort((a, b) => b.length - a.length)[0];
  }

  private soaOf(zone: string): Answer {
    return {
      type: 'SOA',
      name: zone,
      ttl: SOA_TTL,
      data: { mname: `ns.dns.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: SOA_TTL },
    };
  }

  private toAnswer(r: HeldRecord): Answer {
    switch (r.type) {
      case 'SOA':
        return this.soaOf(r.name);
      case 'SRV':
        return { type: 'SRV', name: r.name, ttl: r.ttl, data: r.value as SrvData };
      case 'TXT':
        return { type: 'TXT', name: r.name, ttl: r.ttl, data: r.value as string | string[] };
      default:
        return { type: r.type, name: r.name, ttl: r.ttl, data: r.value as string };
    }
  }
}
