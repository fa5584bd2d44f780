// Every check kdebug knows. Adding a check means writing its module and listing it here.
import { dnsCheck } from './dns.js';
import { httpCheck } from './http.js';
import { tlsCheck } from './tls.js';
import type { CheckDefinition } from './types.js';

const all: CheckDefinition<any>[] = [dnsCheck, httpCheck, tlsCheck];

export const checks: ReadonlyMap<string, CheckDefinition<any>> = new Map(all.map((check) => [check.name, check]));
