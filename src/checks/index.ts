// Every check kdebug knows. Adding a check means writing its module and listing it here.
import { captureCheck } from './capture.js';
import { connCheck } from './conn.js';
import { dnsCheck } from './dns.js';
import { httpCheck } from './http.js';
import { listenCheck } from './listen.js';
import { pingCheck } from './ping.js';
import { tlsCheck } from './tls.js';
import { traceCheck } from './trace.js';
import { triageCheck } from './triage.js';
import type { CheckDefinition } from './types.js';

const all: CheckDefinition<any>[] = [dnsCheck, httpCheck, tlsCheck, pingCheck, connCheck, listenCheck, traceCheck, captureCheck, triageCheck];

export const checks: ReadonlyMap<string, CheckDefinition<any>> = new Map(all.map((check) => [check.name, check]));
