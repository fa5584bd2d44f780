// Test certificates made with the real `openssl` CLI, so the tls and http checks are tested against
// certificates exactly like the ones real servers present. OpenSSL 3.0 cannot back-date a
// certificate with `openssl x509` or `openssl req` (-not_before arrived in 3.4), so every
// certificate, the self-signed ones included (-selfsign), goes through `openssl ca`, whose
// -startdate/-enddate set any validity window, including ones entirely in the past or future.
//
// One set per process, in a temp dir removed at exit. Dates are relative to the moment the set is
// made (expired 2 days ago, expiring in 3 days...), so recorded output must be read with that `now`.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type CertKind = 'valid' | 'expired' | 'not-yet-valid' | 'wrong-name' | 'self-signed' | 'unknown-issuer' | 'expiring-soon';

export const CERT_KINDS: readonly CertKind[] = ['valid', 'expired', 'not-yet-valid', 'wrong-name', 'self-signed', 'unknown-issuer', 'expiring-soon'];

/** The host name a server with each kind of certificate is reached under (`.test` is reserved for testing). */
export const CERT_HOSTS: Record<CertKind, string> = {
  valid: 'valid.tls.test',
  expired: 'expired.tls.test',
  'not-yet-valid': 'future.tls.test',
  'wrong-name': 'wrong-name.tls.test',
  'self-signed': 'self-signed.tls.test',
  'unknown-issuer': 'unknown-ca.tls.test',
  'expiring-soon': 'expiring.tls.test',
};

/** The name the wrong-name certificate is really for. */
export const WRONG_NAME = 'www.other.test';
export const CA_SUBJECT = 'kdebug test CA';
export const UNKNOWN_CA_SUBJECT = 'Unknown Test CA';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Plan {
  issuer: 'ca' | 'unknown-ca' | 'self';
  /** Subject alternative names, openssl syntax. */
  san: string;
  /** Validity relative to the set's creation time, in milliseconds. An extra hour keeps "N days" stable. */
  from: number;
  to: number;
}

const PLANS: Record<CertKind, Plan> = {
  // The valid certificate also names 127.0.0.1, so it can be checked by IP address too.
  valid: { issuer: 'ca', san: `DNS:${CERT_HOSTS.valid},IP:127.0.0.1`, from: -DAY, to: 90 * DAY },
  expired: { issuer: 'ca', san: `DNS:${CERT_HOSTS.expired}`, from: -92 * DAY, to: -2 * DAY - HOUR },
  'not-yet-valid': { issuer: 'ca', san: `DNS:${CERT_HOSTS['not-yet-valid']}`, from: 3 * DAY + HOUR, to: 93 * DAY },
  'wrong-name': { issuer: 'ca', san: `DNS:${WRONG_NAME}`, from: -DAY, to: 90 * DAY },
  'self-signed': { issuer: 'self', san: `DNS:${CERT_HOSTS['self-signed']}`, from: -DAY, to: 90 * DAY },
  'unknown-issuer': { issuer: 'unknown-ca', san: `DNS:${CERT_HOSTS['unknown-issuer']}`, from: -DAY, to: 90 * DAY },
  'expiring-soon': { issuer: 'ca', san: `DNS:${CERT_HOSTS['expiring-soon']}`, from: -87 * DAY, to: 3 * DAY + HOUR },
};

export interface CertFiles {
  certFile: string;
  keyFile: string;
  /** PEM text. */
  cert: string;
  key: string;
}

export interface TestCerts {
  dir: string;
  /** When the set was made: the reference point of every validity window. */
  createdAt: Date;
  /** The trusted test CA, to hand to `--cacert`. */
  ca: CertFiles;
  /** A CA nobody trusts, issuer of the unknown-issuer certificate. */
  unknownCa: CertFiles;
  certs: Record<CertKind, CertFiles>;
}

// Our own config, so the host's openssl.cnf (and its default extensions) never leak in.
const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_self]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
[ca]
default_ca = ca_default
[ca_default]
database = $ENV::CA_DIR/index.txt
new_certs_dir = $ENV::CA_DIR
serial = $ENV::CA_DIR/serial
default_md = sha256
policy = any_name
unique_subject = no
email_in_dn = no
# The SAN comes from the request (-addext), as with a real CSR.
copy_extensions = copy
[any_name]
commonName = supplied
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/** Runs openssl with our config only; `caDir` is where `openssl ca` keeps its index and serial. */
async function openssl(config: string, args: string[], caDir = ''): Promise<void> {
  try {
    await execFileAsync('openssl', args, { timeout: 30_000, env: { ...process.env, OPENSSL_CONF: config, CA_DIR: caDir } });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

/** `openssl ca` date format, UTCTime: YYMMDDHHMMSSZ. */
function utcTime(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
}

function load(certFile: string, keyFile: string): CertFiles {
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

class CertMaker {
  private readonly dir: string;
  private readonly config: string;
  private readonly createdAt: Date;

  constructor(dir: string, config: string, createdAt: Date) {
    this.dir = dir;
    this.config = config;
    this.createdAt = createdAt;
  }

  private at(offset: number): string {
    return utcTime(new Date(this.createdAt.getTime() + offset));
  }

  /** A new P-256 key and a request for `subject` (with SANs, as a real CSR carries them). */
  private async request(name: string, subject: string, san?: string): Promise<{ keyFile: string; csr: string }> {
    const keyFile = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr`);
    await openssl(this.config, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
    await openssl(this.config, ['req', '-new', '-key', keyFile, '-subj', subject, ...(san ? ['-addext', `subjectAltName=${san}`] : []), '-out', csr]);
    return { keyFile, csr };
  }

  async ca(name: string, commonName: string): Promise<CertFiles> {
    const caDir = join(this.dir, name);
    mkdirSync(caDir);
    writeFileSync(join(caDir, 'index.txt'), '');
    writeFileSync(join(caDir, 'serial'), '1000\n');
    const { keyFile, csr } = await this.request(name, `/CN=${commonName}`);
    const certFile = join(this.dir, `${name}.pem`);
    // `openssl ca -selfsign`, so the CA's dates are set the same way as everyone else's.
    await openssl(
      this.config,
      [
        'ca',
        '-batch',
        '-notext',
        '-selfsign',
        '-keyfile',
        keyFile,
        '-in',
        csr,
        '-out',
        certFile,
        '-extensions',
        'v3_ca',
        '-startdate',
        this.at(-2 * DAY),
        '-enddate',
        this.at(3650 * DAY),
      ],
      caDir,
    );
    return load(certFile, keyFile);
  }

  async leaf(kind: CertKind, issuers: Record<'ca' | 'unknown-ca', CertFiles>): Promise<CertFiles> {
    const plan = PLANS[kind];
    const subject = `/CN=${kind === 'wrong-name' ? WRONG_NAME : CERT_HOSTS[kind]}`;
    const { keyFile, csr } = await this.request(kind, subject, plan.san);
    const certFile = join(this.dir, `${kind}.pem`);
    if (plan.issuer === 'self') {
      // Signed with its own key, like an ingress controller's default certificate.
      await openssl(
        this.config,
        [
          'ca',
          '-batch',
          '-notext',
          '-selfsign',
          '-keyfile',
          keyFile,
          '-in',
          csr,
          '-out',
          certFile,
          '-extensions',
          'leaf_self',
          '-startdate',
          this.at(plan.from),
          '-enddate',
          this.at(plan.to),
        ],
        join(this.dir, 'ca'),
      );
    } else {
      const issuer = issuers[plan.issuer];
      await openssl(
        this.config,
        [
          'ca',
          '-batch',
          '-notext',
          '-cert',
          issuer.certFile,
          '-keyfile',
          issuer.keyFile,
          '-in',
          csr,
          '-out',
          certFile,
          '-extensions',
          'leaf',
          '-startdate',
          this.at(plan.from),
          '-enddate',
          this.at(plan.to),
        ],
        join(this.dir, plan.issuer),
      );
    }
    return load(certFile, keyFile);
  }
}

async function makeAll(): Promise<TestCerts> {
  const dir = mkdtempSync(join(tmpdir(), 'kdebug-test-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'openssl.cnf');
  writeFileSync(config, CONFIG);
  // Whole seconds: certificates cannot hold milliseconds, and tests compare dates exactly.
  const createdAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const maker = new CertMaker(dir, config, createdAt);

  const ca = await maker.ca('ca', CA_SUBJECT);
  const unknownCa = await maker.ca('unknown-ca', UNKNOWN_CA_SUBJECT);
  const certs = {} as Record<CertKind, CertFiles>;
  // One at a time: `openssl ca` keeps its serial number and index in files.
  for (const kind of CERT_KINDS) certs[kind] = await maker.leaf(kind, { ca, 'unknown-ca': unknownCa });
  return { dir, createdAt, ca, unknownCa, certs };
}

let cached: Promise<TestCerts> | undefined;

/** The process's certificate set, made on first use. */
export function testCerts(): Promise<TestCerts> {
  cached ??= makeAll();
  return cached;
}
