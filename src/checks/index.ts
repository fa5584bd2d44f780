// Every check kdebug knows. Adding a check means writing its module and listing it here.
import { dnsCheck } from './dns.js';
import type { CheckDefinition } from './types.js';

export const checks: ReadonlyMap<string, CheckDefinition<any>> = new Map<string, CheckDefinition<any>>([[dnsCheck.name, dnsCheck]]);
