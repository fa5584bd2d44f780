// The built program as a person starts it: help, and the one-line start-up errors.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { freePort, testRedis, type TestRedis } from '../support/redis.js';
import { SlackEmulator } from '../../src/playground/slack-emulator.js';

const run = promisify(execFile);
const CLI = 'dist/cli.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function kdebug(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
});

test('--help lists the three roles', async () => {
  const { code, stdout } = await kdebug(['--help']);
  expect(code).toBe(0);
  for (const role of ['bot', 'worker', 'all']) expect(stdout).toMatch(new RegExp(`^  ${role} `, 'm'));
});

test('an unknown role is a usage error', async () => {
  const { code, stderr } = await kdebug(['boot']);
  expect(code).toBe(2);
  expect(stderr).toBe('kdebug: unknown role "boot"; expected one of: bot, worker, all (see kdebug --help)\n');
});

test('a missing secret stops start-up with one line naming it', async () => {
  const { code, stderr } = await kdebug(['bot']);
  expect(code).toBe(1);
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toMatch(/^kdebug: SLACK_BOT_TOKEN is not set; set it to the Bot User OAuth Token/);
});

test('a bad setting stops start-up with one line naming the setting and the fix', async () => {
  const { code, stderr } = await kdebug(['worker'], { SLACK_BOT_TOKEN: 'xoxb-test', KDEBUG_JOBS_DEFAULT_TIMEOUT_SECONDS: '-5' });
  expect(code).toBe(1);
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toMatch(
    /^kdebug: invalid setting jobs\.defaultTimeoutSeconds \(from environment variable KDEBUG_JOBS_DEFAULT_TIMEOUT_SECONDS\): .*; fix KDEBUG_JOBS_DEFAULT_TIMEOUT_SECONDS$/m,
  );
});

test('Redis not reachable: one line naming the URL (password hidden) and how to start one', async () => {
  const port = await freePort();
  const { code, stderr } = await kdebug(['bot'], {
    SLACK_BOT_TOKEN: 'xoxb-test',
    SLACK_SIGNING_SECRET: 'secret',
    REDIS_URL: `redis://:hunter2@127.0.0.1:${port}`,
  });
  expect(code).toBe(1);
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toContain(`kdebug: cannot reach Redis at redis://:***@127.0.0.1:${port}`);
  expect(stderr).toContain('start one (e.g. `redis-server --port 6379`) or set REDIS_URL');
  expect(stderr).not.toContain('hunter2');
});

describe('the bot when Slack is not there yet, or refuses its token', () => {
  let redis: TestRedis;
  let slack: SlackEmulator;
  beforeAll(async () => {
    redis = await testRedis();
    slack = new SlackEmulator();
    await slack.start();
  });
  afterAll(async () => {
    await slack.stop();
    await redis.stop();
  });
  const env = (extra: Record<string, string>) => ({
    PATH: process.env.PATH ?? '',
    REDIS_URL: redis.url,
    KDEBUG_REDIS_KEY_PREFIX: redis.prefix,
    SLACK_SIGNING_SECRET: 'secret',
    PORT: '0',
    KDEBUG_HEALTH_PORT: '0',
    ...extra,
  });

  test('an unreachable Slack API is retried without crashing, and SIGTERM still stops the bot', async () => {
    // Before: Bolt's auth.test at construction rejected with nobody awaiting it, and the process died.
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'bot'], {
      env: env({ SLACK_BOT_TOKEN: 'xoxb-test', SLACK_API_URL: `http://127.0.0.1:${port}/api/` }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let waited = 0; !/cannot reach the Slack API yet; retrying/.test(output) && waited < 10_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    expect(output).toMatch(/cannot reach the Slack API yet; retrying/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).not.toMatch(/Unhandled|WebAPIRequestError/);
  });

  test('a token Slack refuses stops start-up with one line saying so', async () => {
    const { code, stderr } = await kdebug(['bot'], env({ SLACK_BOT_TOKEN: 'xoxb-not-this-workspace', SLACK_API_URL: slack.apiUrl }));
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^kdebug: Slack refused SLACK_BOT_TOKEN \(invalid_auth\); copy the Bot User OAuth Token/);
  });
});
