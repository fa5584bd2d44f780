// Packet dissection: just enough of the link, IP and TCP/UDP headers to name a packet's protocol
// and endpoints for the capture summary. Never a full dissector: anything unknown is "other".

/** Names of the pcap link types (LINKTYPE_*), as tcpdump prints them. */
export const LINK_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'NULL',
  1: 'EN10MB',
  101: 'RAW',
  108: 'LOOP',
  113: 'LINUX_SLL',
  228: 'IPV4',
  229: 'IPV6',
  276: 'LINUX_SLL2',
};

/** Bytes of each packet the dissector looks at: link header + IPv6 with extension headers + ports. */
export const DISSECT_BYTES = 256;

export interface PacketInfo {
  /** "TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "IP proto N", "ARP", "IPv4"/"IPv6" (no transport), or "other". */
  proto: string;
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags byte, when the TCP header was captured. */
  tcpFlags?: number;
}

const IP_PROTOCOLS: Record<number, string> = { 1: 'ICMP', 2: 'IGMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };
const PORT_PROTOCOLS = new Set([6, 17, 132]);

function ipv4Text(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text: lower case, longest run of two or more zero groups as "::". */
function ipv6Text(b: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The network-layer protocol (an ethertype) and where its header starts, per link type. */
function networkLayer(linkType: number, b: Buffer): { ethertype: number; offset: number } | undefined {
  switch (linkType) {
    case 1: {
      if (b.length < 14) return undefined;
      let ethertype = b.readUInt16BE(12);
      let offset = 14;
      // 802.1Q / 802.1ad VLAN tags, at most two deep in practice.
      for (let tags = 0; tags < 4 && (ethertype === 0x8100 || ethertype === 0x88a8 || ethertype === 0x9100) && b.length >= offset + 4; tags++) {
        ethertype = b.readUInt16BE(offset + 2);
        offset += 4;
      }
      return { ethertype, offset };
    }
    case 113:
      return b.length >= 16 ? { ethertype: b.readUInt16BE(14), offset: 16 } : undefined;
    case 276:
      return b.length >= 20 ? { ethertype: b.readUInt16BE(0), offset: 20 } : undefined;
    case 101: {
      const version = (b[0] ?? 0) >> 4;
      if (version === 4) return { ethertype: 0x0800, offset: 0 };
      if (version === 6) return { ethertype: 0x86dd, offset: 0 };
      return undefined;
    }
    case 228:
      return { ethertype: 0x0800, offset: 0 };
    case 229:
      return { ethertype: 0x86dd, offset: 0 };
    case 0:
    case 108: {
      if (b.length < 4) return undefined;
      // DLT_NULL stores the address family in the writer's byte order, LOOP in network order.
      const families = linkType === 108 ? [b.readUInt32BE(0)] : [b.readUInt32LE(0), b.readUInt32BE(0)];
      for (const family of families) {
        if (family === 2) return { ethertype: 0x0800, offset: 4 };
        if (family === 10 || family === 24 || family === 28 || family === 30) return { ethertype: 0x86dd, offset: 4 };
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

function transport(info: PacketInfo, protocol: number, b: Buffer, l4: number, fragment: boolean): void {
  info.proto = IP_PROTOCOLS[protocol] ?? `IP proto ${protocol}`;
  if (fragment || !PORT_PROTOCOLS.has(protocol) || b.length < l4 + 4) return;
  info.srcPort = b.readUInt16BE(l4);
  info.dstPort = b.readUInt16BE(l4 + 2);
  if (protocol === 6 && b.length >= l4 + 14) info.tcpFlags = b[l4 + 13] ?? 0;
}

/** What a packet is, from its first bytes (at most DISSECT_BYTES are needed) and the file's link type. */
export function dissect(linkType: number, b: Buffer): PacketInfo {
  const net = networkLayer(linkType, b);
  if (!net) return { proto: 'other' };
  const at = net.offset;
  if (net.ethertype === 0x0806) return { proto: 'ARP' };
  if (net.ethertype === 0x0800) {
    if (b.length < at + 20 || (b[at] ?? 0) >> 4 !== 4) return { proto: 'other' };
    const info: PacketInfo = { proto: 'IPv4', src: ipv4Text(b, at + 12), dst: ipv4Text(b, at + 16) };
    const headerLength = ((b[at] ?? 0) & 15) * 4;
    const fragmentOffset = b.readUInt16BE(at + 6) & 0x1fff;
    transport(info, b[at + 9] ?? 0, b, at + headerLength, fragmentOffset !== 0);
    return info;
  }
  if (net.ethertype === 0x86dd) {
    if (b.length < at + 40 || (b[at] ?? 0) >> 4 !== 6) return { proto: 'other' };
    const info: PacketInfo = { proto: 'IPv6', src: ipv6Text(b, at + 8), dst: ipv6Text(b, at + 24) };
    let next = b[at + 6] ?? 0;
    let l4 = at + 40;
    let fragment = false;
    // Extension headers: hop-by-hop, routing, destination options, fragment, authentication.
    for (let hops = 0; hops < 8 && b.length >= l4 + 8; hops++) {
      if (next === 0 || next === 43 || next === 60) {
        const length = ((b[l4 + 1] ?? 0) + 1) * 8;
        next = b[l4] ?? 0;
        l4 += length;
      } else if (next === 44) {
        fragment = (b.readUInt16BE(l4 + 2) & 0xfff8) !== 0;
        next = b[l4] ?? 0;
        l4 += 8;
      } else if (next === 51) {
        const length = ((b[l4 + 1] ?? 0) + 2) * 4;
        next = b[l4] ?? 0;
        l4 += length;
      } else {
        break;
      }
    }
    transport(info, next, b, l4, fragment);
    return info;
  }
  return { proto: 'other' };
}
