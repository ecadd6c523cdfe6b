/**
 * examples/deploy stays correct without Docker or Fly: promtool checks the Prometheus config with the rules
 * it references (generated into a temp copy, never committed) and the file_sd targets files; Debian's
 * python3 (PyYAML, tomllib) parses docker-compose.yml, the Grafana provisioning files and fly.toml, and the
 * test checks that they point at each other (mounted paths exist, the data source URL names the compose
 * service, the dashboards provider reads the mounted folder, Fly scrapes the metrics port the app serves).
 */
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoMetrics } from '../../src/cli/demo/start.js';
import { alertRules } from '../../src/dashboard/index.js';
import { PROMTOOL, PYTHON3, requirePromtool, requireTool, runTool } from '../support/tools.js';
import { REPO_ROOT } from './demo-process.js';

const DEPLOY = join(REPO_ROOT, 'examples/deploy');
const hasPromtool = requirePromtool();
const hasPython = requireTool(PYTHON3, {
  name: 'python3 with PyYAML',
  debianPackage: 'python3-yaml',
  probeArgs: ['-I', '-c', 'import yaml, tomllib'],
});

const LOAD = `
import json, sys, tomllib, yaml
out = []
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        out.append(tomllib.load(f) if path.endswith('.toml') else yaml.safe_load(f))
print(json.dumps(out))
`;

/** Parses YAML and TOML files with Debian's python3, an outside parser. */
async function load(...files: string[]): Promise<any[]> {
  const { code, stdout, stderr } = await runTool(PYTHON3, [
    '-I',
    '-c',
    LOAD,
    ...files.map((f) => join(DEPLOY, f)),
  ]);
  if (code !== 0) throw new Error(`python3 could not parse ${files.join(', ')}: ${stderr}`);
  return JSON.parse(stdout);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe.skipIf(!hasPromtool)('examples/deploy/prometheus.yml', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'telemeter-deploy-'));
    await cp(DEPLOY, dir, { recursive: true });
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const check = () => runTool(PROMTOOL, ['check', 'config', join(dir, 'prometheus.yml')]);

  it('can fail: promtool rejects the config while the rules file it references is missing', async () => {
    await rm(join(dir, 'rules/telemeter.rules.yml'), { force: true });
    const { code, stdout, stderr } = await check();
    expect(code).toBe(1);
    expect(stdout + stderr).toMatch(/rules\/telemeter\.rules\.yml" does not point to an existing file/);
  });

  it('passes promtool check config, with the generated rules and the file_sd targets', async () => {
    await writeFile(join(dir, 'rules/telemeter.rules.yml'), alertRules(demoMetrics()));
    const { code, stdout, stderr } = await check();
    expect(code, stdout + stderr).toBe(0);
    expect(stdout).toContain('SUCCESS: 1 rule files found');
    expect(stdout).toContain('SUCCESS: 11 rules found');
  });

  it('accepts targets.docker.json as the targets file, and rejects a malformed one', async () => {
    await cp(join(DEPLOY, 'targets.docker.json'), join(dir, 'targets.json'));
    const docker = await check();
    expect(docker.code, docker.stdout + docker.stderr).toBe(0);
    await writeFile(join(dir, 'targets.json'), JSON.stringify({ targets: ['localhost:9091'] }));
    const malformed = await check();
    expect(malformed.code).toBe(1);
    expect(malformed.stdout + malformed.stderr).toMatch(
      /checking SD file "[^"]*targets\.json": json: cannot unmarshal/,
    );
  });

  it('lists several instances in both targets files, without labels Prometheus or Fly set', async () => {
    for (const file of ['targets.json', 'targets.docker.json']) {
      const groups = JSON.parse(await readFile(join(DEPLOY, file), 'utf8'));
      expect(groups[0].targets.length).toBeGreaterThanOrEqual(3);
      for (const name of ['job', 'instance', 'app', 'region', 'host', 'service']) {
        expect(Object.keys(groups[0].labels ?? {})).not.toContain(name);
      }
    }
  });
});

describe.skipIf(!hasPython)('examples/deploy: docker-compose, Grafana provisioning, fly.toml', () => {
  it('mounts only files that exist (or are generated into the .gitignored folders)', async () => {
    const [compose] = await load('docker-compose.yml');
    expect(Object.keys(compose.services).sort()).toEqual(['grafana', 'prometheus']);
    const named = new Set(Object.keys(compose.volumes ?? {}));
    for (const service of Object.values<any>(compose.services)) {
      for (const volume of service.volumes as string[]) {
        const [source] = volume.split(':');
        if (named.has(source)) continue;
        expect(source.startsWith('./'), volume).toBe(true);
        expect(await exists(join(DEPLOY, source)), `${volume}: ${source} is missing`).toBe(true);
      }
    }
    const prometheus = compose.services.prometheus;
    expect(prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(prometheus.volumes).toContain('./prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(prometheus.volumes).toContain('./targets.docker.json:/etc/prometheus/targets.json:ro');
    expect(prometheus.volumes).toContain('./rules:/etc/prometheus/rules:ro');
    expect(prometheus.extra_hosts).toContain('host.docker.internal:host-gateway');
    const gitignore = await readFile(join(DEPLOY, '.gitignore'), 'utf8');
    expect(gitignore).toMatch(/^rules\/\*\.yml$/m);
    expect(gitignore).toMatch(/^grafana\/dashboards\/\*\.json$/m);
  });

  it('provisions the data source "prometheus" at the compose service, and the mounted dashboards folder', async () => {
    const [compose, datasources, dashboards] = await load(
      'docker-compose.yml',
      'grafana/provisioning/datasources/prometheus.yml',
      'grafana/provisioning/dashboards/telemeter.yml',
    );
    expect(datasources.apiVersion).toBe(1);
    expect(datasources.datasources).toHaveLength(1);
    const [source] = datasources.datasources;
    expect(source).toMatchObject({
      name: 'prometheus',
      uid: 'prometheus',
      type: 'prometheus',
      access: 'proxy',
    });
    expect(source.url).toBe('http://prometheus:9090');
    expect(compose.services.prometheus.ports).toContain('127.0.0.1:9090:9090');

    expect(dashboards.apiVersion).toBe(1);
    const [provider] = dashboards.providers;
    expect(provider.type).toBe('file');
    const grafanaVolumes: string[] = compose.services.grafana.volumes;
    expect(grafanaVolumes).toContain(`./grafana/dashboards:${provider.options.path}:ro`);
    expect(grafanaVolumes).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
  });

  it('fly.toml: Fly scrapes /metrics on 9091 of the app process group, where the shop serves them', async () => {
    const [fly] = await load('fly.toml');
    expect(fly.metrics).toEqual([{ port: 9091, path: '/metrics', processes: ['app'] }]);
    expect(Object.keys(fly.processes)).toContain('app');
    expect(fly.env.METRICS_PORT).toBe('9091');
    expect(fly.http_service.internal_port).toBe(Number(fly.env.PORT));
    // The metrics port must stay private: it is not the public service's port.
    expect(fly.http_service.internal_port).not.toBe(9091);
  });
});
