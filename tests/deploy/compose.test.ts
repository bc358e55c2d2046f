/**
 * docker-compose.yml, checked without a Docker engine: parsed as YAML and held to what `docker
 * compose up` needs (pinned images, healthchecks, ports, dependencies, volumes, overridable
 * secrets). `docker compose config` runs too where the CLI's compose plugin is installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');

interface Healthcheck {
  test?: string | string[];
  disable?: boolean;
}
interface Service {
  image?: string;
  ports?: (string | { target: number; published?: string | number; host_ip?: string })[];
  expose?: (string | number)[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: (string | { type?: string; source?: string; target: string })[];
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: Healthcheck;
  restart?: string;
  command?: unknown;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

async function loadCompose(): Promise<Compose> {
  // merge: the file shares the Langfuse environment through a YAML anchor and `<<:`.
  return parse(await readFile(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
}

/** `${NAME:-default}` → its default; a plain value as is. */
function defaultOf(value: unknown): string {
  const text = String(value);
  const match = /^\$\{([A-Z0-9_]+):-([^}]*)\}$/.exec(text);
  return match ? match[2]! : text;
}

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0]!, entry.split('=').slice(1).join('=')]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** Published ports as `{ host, container, hostIp }` (short syntax `[ip:]host:container`). */
function publishedPorts(service: Service): { host: number; container: number; hostIp?: string }[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return { host: Number(port.published), container: port.target, ...(port.host_ip ? { hostIp: port.host_ip } : {}) };
    }
    const parts = String(port).split(':');
    const container = Number(parts.pop());
    const host = Number(parts.pop());
    return { host, container, ...(parts.length ? { hostIp: parts.join(':') } : {}) };
  });
}

function dependencies(service: Service): Record<string, string> {
  const deps = service.depends_on ?? [];
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d.condition ?? 'service_started']));
}

/** One-shot services: run to completion and are never restarted. */
function isOneShot(service: Service): boolean {
  return service.restart === 'no';
}

/**
 * The one long-lived service without a Docker healthcheck, and why: the Collector image is a lone
 * static binary, so Docker has nothing to run a probe with. Its health_check extension is
 * published instead (checked below and in collector.test.ts).
 */
const NO_PROBE_POSSIBLE = new Set(['otel-collector']);

describe('docker-compose.yml', () => {
  it('parses, and every service has an image pinned to an exact tag (no latest, no variable)', async () => {
    const compose = await loadCompose();
    const services = Object.entries(compose.services);
    expect(services.length).toBeGreaterThan(0);
    for (const [name, service] of services) {
      expect(service.image, `${name}: image`).toBeTypeOf('string');
      const image = service.image!;
      expect(image, `${name}: image must not be interpolated`).not.toMatch(/\$/);
      const lastSegment = image.split('/').pop()!;
      const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : '';
      expect(tag, `${name}: ${image} has no tag`).not.toBe('');
      expect(tag, `${name}: ${image}`).not.toMatch(/^latest$/i);
      // A major-only tag (`redis:7`, `langfuse:4`) moves; require at least major.minor.
      expect(tag, `${name}: ${image} is not pinned to major.minor or finer`).toMatch(/\d+\.\d+|RELEASE\.\d{4}-/);
    }
  });

  it('pins the images the stack is documented with', async () => {
    const { services } = await loadCompose();
    expect(services['otel-collector']?.image).toMatch(/^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/);
    expect(services.jaeger?.image).toMatch(/^jaegertracing\/(jaeger|all-in-one):\d+\.\d+\.\d+$/);
    expect(services['langfuse-web']?.image).toMatch(/^langfuse\/langfuse:\d+\.\d+\.\d+$/);
    // Web and worker must be the same release: they share the database schema.
    expect(services['langfuse-worker']?.image?.split(':')[1]).toBe(services['langfuse-web']?.image?.split(':')[1]);
  });

  it('runs what self-hosted Langfuse needs: web, worker, postgres, clickhouse, redis, minio', async () => {
    const { services } = await loadCompose();
    for (const name of ['langfuse-web', 'langfuse-worker', 'postgres', 'clickhouse', 'redis', 'minio']) {
      expect(services, name).toHaveProperty(name);
    }
    const web = environmentOf(services['langfuse-web']!);
    const worker = environmentOf(services['langfuse-worker']!);
    for (const env of [web, worker]) {
      for (const key of ['DATABASE_URL', 'CLICKHOUSE_URL', 'CLICKHOUSE_MIGRATION_URL', 'REDIS_HOST', 'SALT', 'ENCRYPTION_KEY', 'LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT']) {
        expect(env, key).toHaveProperty(key);
      }
      expect(defaultOf(env.ENCRYPTION_KEY)).toMatch(/^[0-9a-f]{64}$/);
      expect(new URL(env.DATABASE_URL!.replace(/\$\{[^}]+\}/g, 'x')).hostname).toBe('postgres');
      expect(new URL(env.CLICKHOUSE_URL!).hostname).toBe('clickhouse');
      expect(env.REDIS_HOST).toBe('redis');
      expect(new URL(env.LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT!).hostname).toBe('minio');
    }
    expect(web).toHaveProperty('NEXTAUTH_SECRET');
  });

  it('has a healthcheck on every long-lived service (the Collector, which cannot be probed, publishes its health_check port)', async () => {
    const { services } = await loadCompose();
    for (const [name, service] of Object.entries(services)) {
      if (isOneShot(service)) continue;
      if (NO_PROBE_POSSIBLE.has(name)) {
        expect(service.healthcheck, `${name}: listed as unprobeable but has a healthcheck`).toBeUndefined();
        expect(publishedPorts(service).map((p) => p.container)).toContain(13133);
        continue;
      }
      expect(service.healthcheck?.test, `${name}: healthcheck.test`).toBeDefined();
      expect(service.healthcheck?.disable, `${name}: healthcheck disabled`).not.toBe(true);
    }
  });

  it('makes Langfuse web and worker listen on 0.0.0.0, so their healthchecks on 127.0.0.1 can pass', async () => {
    // Docker sets HOSTNAME to the container id; both servers bind to $HOSTNAME, so without this
    // they listen on the container's network address only and 127.0.0.1 is refused.
    const { services } = await loadCompose();
    for (const name of ['langfuse-web', 'langfuse-worker']) {
      const service = services[name]!;
      expect(environmentOf(service).HOSTNAME, `${name}: HOSTNAME`).toBe('0.0.0.0');
      expect(JSON.stringify(service.healthcheck?.test), `${name}: healthcheck`).toMatch(/http:\/\/(127\.0\.0\.1|localhost):\d+\//);
    }
  });

  it('publishes 4317/4318 (collector), 16686 (Jaeger UI) and 3000 (Langfuse) on the same host ports', async () => {
    const { services } = await loadCompose();
    const expected: [string, number][] = [
      ['otel-collector', 4317],
      ['otel-collector', 4318],
      ['jaeger', 16686],
      ['langfuse-web', 3000],
    ];
    for (const [name, port] of expected) {
      const ports = publishedPorts(services[name]!);
      expect(ports, `${name}:${port}`).toContainEqual(expect.objectContaining({ host: port, container: port }));
    }
    // Nothing else may take the host's OTLP ports (Jaeger's stay on the compose network).
    for (const [name, service] of Object.entries(services)) {
      if (name === 'otel-collector') continue;
      expect(publishedPorts(service).map((p) => p.host), name).not.toContain(4317);
      expect(publishedPorts(service).map((p) => p.host), name).not.toContain(4318);
    }
    const hostPorts = Object.values(services).flatMap((s) => publishedPorts(s).map((p) => `${p.hostIp ?? '*'}:${p.host}`));
    expect(new Set(hostPorts).size, 'a host port published twice').toBe(hostPorts.length);
  });

  it('depends only on services that exist, waiting on health only where there is a healthcheck', async () => {
    const { services } = await loadCompose();
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, condition] of Object.entries(dependencies(service))) {
        expect(services, `${name} depends on ${dependency}`).toHaveProperty(dependency);
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') {
          expect(services[dependency]!.healthcheck?.test, `${name} waits for ${dependency} to be healthy`).toBeDefined();
        }
        if (condition === 'service_completed_successfully') {
          expect(isOneShot(services[dependency]!), `${dependency} must be one-shot`).toBe(true);
        }
      }
    }
    expect(dependencies(services['langfuse-web']!)).toMatchObject({
      postgres: 'service_healthy',
      clickhouse: 'service_healthy',
      redis: 'service_healthy',
      minio: 'service_healthy',
    });
  });

  it('declares every named volume it mounts, and every bind-mounted file exists', async () => {
    const compose = await loadCompose();
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '');
        if (source.startsWith('.') || source.startsWith('/')) {
          expect(existsSync(resolve(ROOT, source)), `${name}: bind mount ${source}`).toBe(true);
        } else {
          expect(declared, `${name}: volume ${source} is not declared`).toContain(source);
        }
      }
    }
    const collectorMounts = (compose.services['otel-collector']!.volumes ?? []).map(String);
    // The contrib image's default command reads this path.
    expect(collectorMounts).toContain('./collector/config.yaml:/etc/otelcol-contrib/config.yaml:ro');
    expect(collectorMounts.some((m) => m.startsWith('collector-data:'))).toBe(true);
  });

  it('takes every secret from the environment, with a local-only default', async () => {
    const { services } = await loadCompose();
    const secretKey = /(SECRET|PASSWORD|SALT|ENCRYPTION_KEY|_AUTH$|^LANGFUSE_AUTH$)/;
    const checked: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      for (const [key, value] of Object.entries(environmentOf(service))) {
        if (!secretKey.test(key)) continue;
        checked.push(`${name}.${key}`);
        expect(value, `${name}.${key} must be \${VAR:-default}`).toMatch(/^\$\{[A-Z0-9_]+:-[^}]+\}$/);
      }
    }
    expect(checked).toEqual(expect.arrayContaining(['langfuse-web.NEXTAUTH_SECRET', 'otel-collector.LANGFUSE_AUTH', 'postgres.POSTGRES_PASSWORD']));
  });

  it("defaults LANGFUSE_AUTH to base64 of the project keys Langfuse is initialised with", async () => {
    const { services } = await loadCompose();
    const web = environmentOf(services['langfuse-web']!);
    const collector = environmentOf(services['otel-collector']!);
    const publicKey = defaultOf(web.LANGFUSE_INIT_PROJECT_PUBLIC_KEY);
    const secretKey = defaultOf(web.LANGFUSE_INIT_PROJECT_SECRET_KEY);
    expect(publicKey).toMatch(/^pk-lf-/);
    expect(secretKey).toMatch(/^sk-lf-/);
    expect(defaultOf(collector.LANGFUSE_AUTH)).toBe(Buffer.from(`${publicKey}:${secretKey}`).toString('base64'));
    // Headless init only runs with an organisation and a project id.
    expect(defaultOf(web.LANGFUSE_INIT_ORG_ID)).not.toBe('');
    expect(defaultOf(web.LANGFUSE_INIT_PROJECT_ID)).not.toBe('');
  });

  const composePlugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!composePlugin)(
    '`docker compose config --quiet` accepts the file (skipped when the docker CLI or its compose plugin is absent)',
    () => {
      // `config` only parses and interpolates; it needs no engine.
      execFileSync('docker', ['compose', '-f', COMPOSE_FILE, 'config', '--quiet'], { cwd: ROOT, stdio: 'pipe' });
    },
  );
});
