import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

// The Helm chart, rendered by a real helm binary (scripts/services/helm.sh builds one; npm test sets
// AVIARY_TEST_HELM) and checked as parsed manifests: what a cluster would be given.

const root = join(__dirname, '..', '..', '..');
const chart = join(root, 'charts', 'aviary');
const fullValues = join(chart, 'ci', 'full-values.yaml');
/** helm template assumes Kubernetes 1.20 without a cluster; the chart needs 1.25 or later. */
const KUBE_VERSION = '1.30.0';

function helmBinary(): string {
  const bin = process.env['AVIARY_TEST_HELM'];
  if (!bin || !existsSync(bin))
    throw new Error('AVIARY_TEST_HELM is not set: run `bash scripts/services/helm.sh --url` (npm test does)');
  return bin;
}

function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(helmBinary(), args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Manifest {
  kind: string;
  apiVersion: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: EnvVar[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: { httpGet?: { path: string } };
  readinessProbe?: { httpGet?: { path: string } };
  startupProbe?: unknown;
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  serviceAccountName?: string;
  volumes?: { name: string }[];
  tolerations?: unknown[];
}

function render(...args: string[]): Manifest[] {
  const r = helm(['template', 'aviary', chart, '--namespace', 'ai', '--kube-version', KUBE_VERSION, ...args]);
  if (r.status !== 0) throw new Error(`helm template failed (${r.status}):\n${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const byKind = (ms: Manifest[], kind: string) => ms.filter((m) => m.kind === kind);
const named = (ms: Manifest[], kind: string, name: string) => {
  const m = ms.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m)
    throw new Error(`no ${kind} ${name} in: ${ms.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return m;
};
const podOf = (m: Manifest): PodSpec => (m.spec as { template: { spec: PodSpec } }).template.spec;
const envOf = (c: Container) => new Map((c.env ?? []).map((e) => [e.name, e]));

const SECRET_LIKE = /TOKEN|SECRET|PASSWORD|API_KEY|DATABASE_URL/;

describe.each([
  ['default values', [] as string[]],
  ['the full example values', ['-f', fullValues]],
])('the chart with %s', (_name, args) => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = render(...args);
  });

  it('passes helm lint --strict', () => {
    const r = helm(['lint', '--strict', chart, ...args]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('0 chart(s) failed');
    expect(r.status).toBe(0);
  });

  it('deploys the control plane, the router and the analyzer, and a migration hook', () => {
    expect(
      byKind(manifests, 'Deployment')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(['aviary-analyzer', 'aviary-control-plane', 'aviary-router']);
    const job = named(manifests, 'Job', 'aviary-migrate');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(podOf(job).containers[0]?.command).toEqual(['node', 'dist/apps/control-plane/src/cli/migrate.js']);
  });

  it('gives every pod probes on /healthz and /readyz, resources, and a non-root read-only security context', () => {
    for (const m of [...byKind(manifests, 'Deployment'), ...byKind(manifests, 'Job')]) {
      const pod = podOf(m);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const c of pod.containers) {
        const where = `${m.kind}/${m.metadata.name}/${c.name}`;
        expect({ where, sc: c.securityContext }).toMatchObject({
          where,
          sc: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            privileged: false,
            capabilities: { drop: ['ALL'] },
          },
        });
        const memory = [c.resources?.requests?.['memory'], c.resources?.limits?.['memory']];
        expect({ where, memory: memory.map((v) => typeof v) }).toEqual({
          where,
          memory: ['string', 'string'],
        });
        // A read-only root filesystem needs a writable /tmp.
        expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'tmp', mountPath: '/tmp' }]));
        if (m.kind === 'Deployment') {
          expect({
            where,
            live: c.livenessProbe?.httpGet?.path,
            ready: c.readinessProbe?.httpGet?.path,
          }).toEqual({
            where,
            live: '/healthz',
            ready: '/readyz',
          });
          expect(c.startupProbe).toBeDefined();
        }
      }
    }
  });

  it('references Secrets for every credential and never renders one', () => {
    expect(byKind(manifests, 'Secret')).toEqual([]);
    for (const m of [...byKind(manifests, 'Deployment'), ...byKind(manifests, 'Job')]) {
      for (const c of podOf(m).containers) {
        for (const e of c.env ?? []) {
          if (!SECRET_LIKE.test(e.name)) continue;
          const where = `${m.metadata.name}/${e.name}`;
          const ref = e.valueFrom?.secretKeyRef;
          expect({ where, value: e.value, ref: [typeof ref?.name, typeof ref?.key] }).toEqual({
            where,
            value: undefined,
            ref: ['string', 'string'],
          });
        }
      }
    }
  });

  it('scales the router: an HPA and a PodDisruptionBudget', () => {
    const hpa = named(manifests, 'HorizontalPodAutoscaler', 'aviary-router');
    expect(hpa.spec).toMatchObject({ scaleTargetRef: { kind: 'Deployment', name: 'aviary-router' } });
    expect(named(manifests, 'PodDisruptionBudget', 'aviary-router').spec).toMatchObject({
      selector: { matchLabels: { 'app.kubernetes.io/component': 'router' } },
    });
    // The HPA owns the replica count.
    expect(named(manifests, 'Deployment', 'aviary-router').spec?.['replicas']).toBeUndefined();
  });
});

describe('the chart with the full example values', () => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = render('-f', fullValues);
  });

  it('wires Kafka TLS and SASL from Secrets into the router and the analyzer', () => {
    for (const name of ['aviary-router', 'aviary-analyzer']) {
      const pod = podOf(named(manifests, 'Deployment', name));
      const env = envOf(pod.containers[0]!);
      expect(env.get('KAFKA_BROKERS')?.value).toBe(
        'kafka-0.kafka:9093,kafka-1.kafka:9093,kafka-2.kafka:9093',
      );
      expect(env.get('KAFKA_SSL')?.value).toBe('true');
      expect(env.get('KAFKA_SSL_CA_FILE')?.value).toBe('/etc/aviary/kafka-ca/ca.crt');
      expect(env.get('KAFKA_SASL_MECHANISM')?.value).toBe('scram-sha-512');
      expect(env.get('KAFKA_SASL_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
        name: 'aviary-kafka',
        key: 'password',
      });
      expect(pod.volumes).toEqual(
        expect.arrayContaining([{ name: 'kafka-ca', secret: { secretName: 'kafka-ca' } }]),
      );
    }
  });

  it('gives routers and the control plane the upstream credentials as AVIARY_UPSTREAM_KEY_<NAME>, and routers Unleash client tokens', () => {
    for (const app of ['aviary-router', 'aviary-control-plane']) {
      const keys = envOf(podOf(named(manifests, 'Deployment', app)).containers[0]!);
      expect(keys.get('AVIARY_UPSTREAM_KEY_OPENAI_PROD')?.valueFrom?.secretKeyRef).toEqual({
        name: 'model-api-keys',
        key: 'openai',
      });
      expect(keys.get('AVIARY_UPSTREAM_KEY_VLLM')?.valueFrom?.secretKeyRef).toEqual({
        name: 'model-api-keys',
        key: 'vllm',
      });
    }
    const env = envOf(podOf(named(manifests, 'Deployment', 'aviary-router')).containers[0]!);
    expect(env.get('AVIARY_FLAGS_URL')?.value).toBe('https://unleash.example.com/api');
    expect(env.get('AVIARY_FLAGS_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'aviary-unleash',
      key: 'client-token',
    });
    const cp = envOf(podOf(named(manifests, 'Deployment', 'aviary-control-plane')).containers[0]!);
    expect(cp.get('UNLEASH_ADMIN_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'aviary-unleash',
      key: 'admin-token',
    });
    expect(cp.get('AVIARY_DB_POOL_MAX')?.value).toBe('20');
  });

  it('uses the registry and tag for every image', () => {
    const images = [...byKind(manifests, 'Deployment'), ...byKind(manifests, 'Job')].map(
      (m) => podOf(m).containers[0]!.image,
    );
    expect(images.sort()).toEqual([
      'registry.example.com/aviary/analyzer:0.1.0',
      'registry.example.com/aviary/control-plane:0.1.0',
      'registry.example.com/aviary/control-plane:0.1.0',
      'registry.example.com/aviary/router:0.1.0',
    ]);
  });

  it('scales routers on requests in flight too, and exposes both services through the Ingress', () => {
    const metrics = (
      named(manifests, 'HorizontalPodAutoscaler', 'aviary-router').spec as { metrics: unknown[] }
    ).metrics;
    expect(metrics).toEqual([
      expect.objectContaining({ type: 'Resource' }),
      {
        type: 'Pods',
        pods: {
          metric: { name: 'aviary_router_upstream_in_flight' },
          target: { type: 'AverageValue', averageValue: '64' },
        },
      },
    ]);
    const ingress = named(manifests, 'Ingress', 'aviary');
    expect(JSON.stringify(ingress.spec)).toContain('"secretName":"aviary-tls"');
    // Only the APIs are published: /metrics, /healthz and /readyz stay inside the cluster.
    const rules = (ingress.spec as { rules: { host: string; http: { paths: { path: string }[] } }[] }).rules;
    expect(rules.map((r) => [r.host, r.http.paths.map((p) => p.path)])).toEqual([
      ['aviary.example.com', ['/api', '/status']],
      ['llm.example.com', ['/v1']],
    ]);
    const policies = byKind(manifests, 'NetworkPolicy');
    expect(policies).toHaveLength(3);
    // The router admits its clients, the ingress controller and Prometheus.
    const routerPolicy = named(manifests, 'NetworkPolicy', 'aviary-router').spec as {
      ingress: { from: { namespaceSelector: { matchLabels?: Record<string, string> } }[] }[];
    };
    expect(routerPolicy.ingress[0]!.from.map((f) => f.namespaceSelector.matchLabels)).toEqual([
      { 'aviary-client': 'true' },
      { 'kubernetes.io/metadata.name': 'ingress-nginx' },
      { 'kubernetes.io/metadata.name': 'monitoring' },
    ]);
    const analyzerEnv = envOf(podOf(named(manifests, 'Deployment', 'aviary-analyzer')).containers[0]!);
    expect(analyzerEnv.get('AVIARY_KAFKA_PARTITIONS')?.value).toBe('12');
  });

  it('ships the alert rules file as a PrometheusRule, ServiceMonitors and the Grafana dashboard', () => {
    const rule = named(manifests, 'PrometheusRule', 'aviary');
    const file = parse(readFileSync(join(chart, 'files', 'aviary-alerts.yaml'), 'utf8')) as {
      groups: unknown[];
    };
    expect(rule.spec).toEqual({ groups: file.groups });
    expect(
      byKind(manifests, 'ServiceMonitor')
        .map((m) => m.metadata.name)
        .sort(),
    ).toEqual(['aviary-analyzer', 'aviary-control-plane', 'aviary-router']);
    const dashboard = named(manifests, 'ConfigMap', 'aviary-dashboard');
    expect(dashboard.metadata.labels?.['grafana_dashboard']).toBe('1');
    expect((JSON.parse(dashboard.data?.['aviary.json'] ?? '') as { uid: string }).uid).toBe(
      'aviary-rollouts',
    );
  });
});

describe('the chart with the built-in flag source', () => {
  it('points routers at the control plane with a viewer token from a Secret, and keeps Unleash out', () => {
    const manifests = render('--set', 'flags.source=builtin');
    const router = envOf(podOf(named(manifests, 'Deployment', 'aviary-router')).containers[0]!);
    expect(router.get('AVIARY_FLAGS_URL')?.value).toBe('http://aviary-control-plane:8080/api');
    expect(router.get('AVIARY_FLAGS_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'aviary-router',
      key: 'flags-token',
    });
    const cp = envOf(podOf(named(manifests, 'Deployment', 'aviary-control-plane')).containers[0]!);
    expect(cp.has('UNLEASH_URL')).toBe(false);
  });
});

describe('the chart and router API keys', () => {
  it('requires router keys by default: routers fetch them from the control plane with a viewer token', () => {
    const router = envOf(podOf(named(render(), 'Deployment', 'aviary-router')).containers[0]!);
    expect(router.get('AVIARY_ROUTER_AUTH')?.value).toBe('keys');
    expect(router.get('AVIARY_CONTROL_PLANE_URL')?.value).toBe('http://aviary-control-plane:8080');
    expect(router.get('AVIARY_CONTROL_PLANE_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'aviary-router',
      key: 'control-plane-token',
    });
  });

  it('turns client authentication off only when told to', () => {
    const router = envOf(
      podOf(named(render('--set', 'router.auth.mode=off'), 'Deployment', 'aviary-router')).containers[0]!,
    );
    expect(router.get('AVIARY_ROUTER_AUTH')?.value).toBe('off');
    expect(router.has('AVIARY_CONTROL_PLANE_TOKEN')).toBe(false);
  });
});

describe('the chart and traces, notifications and forced versions', () => {
  const envs = (...args: string[]) => {
    const manifests = render(...args);
    const env = (name: string) => envOf(podOf(named(manifests, 'Deployment', name)).containers[0]!);
    return {
      router: env('aviary-router'),
      cp: env('aviary-control-plane'),
      analyzer: env('aviary-analyzer'),
    };
  };

  it('sets no OTEL_* variable while tracing.endpoint is empty: traces stay off', () => {
    const { router, cp } = envs();
    for (const env of [router, cp]) expect([...env.keys()].filter((k) => k.startsWith('OTEL_'))).toEqual([]);
  });

  it('points the routers and the control plane at the OTLP endpoint, each with its service name', () => {
    const { router, cp, analyzer } = envs('-f', fullValues);
    for (const [env, service] of [
      [router, 'aviary-router'],
      [cp, 'aviary-control-plane'],
    ] as const) {
      expect(env.get('OTEL_EXPORTER_OTLP_ENDPOINT')?.value).toBe('http://otel-collector.observability:4318');
      expect(env.get('OTEL_SERVICE_NAME')?.value).toBe(service);
      expect(env.get('OTEL_TRACES_SAMPLER')?.value).toBe('parentbased_traceidratio');
      expect(env.get('OTEL_TRACES_SAMPLER_ARG')?.value).toBe('0.25');
      expect(env.get('OTEL_RESOURCE_ATTRIBUTES')?.value).toBe(
        'k8s.namespace.name=ai,deployment.environment.name=production',
      );
    }
    // The analyzer makes no spans.
    expect(analyzer.has('OTEL_EXPORTER_OTLP_ENDPOINT')).toBe(false);
  });

  it('gives the control plane its public URL and notification settings, and routers the force-version keys and CORS origins', () => {
    const { router, cp } = envs('-f', fullValues);
    expect(cp.get('AVIARY_PUBLIC_URL')?.value).toBe('https://aviary.example.com');
    expect(cp.get('AVIARY_NOTIFY_TIMEOUT_MS')?.value).toBe('3000');
    expect(cp.get('AVIARY_NOTIFY_MAX_ATTEMPTS')?.value).toBe('5');
    expect(cp.get('AVIARY_NOTIFY_HOSTS')?.value).toBe('hooks.slack.com,*.example.com');
    expect(router.get('AVIARY_FORCE_VERSION_HEADER')?.value).toBe('x-debug-version');
    expect(router.get('AVIARY_FORCE_VERSION_KEYS')?.value).toBe('oncall-debug,ml-eval');
    expect(router.get('AVIARY_CORS_ORIGINS')?.value).toBe('https://chat.example.com,http://localhost:5173');
    const defaults = envs();
    // No browser origin is allowed unless listed.
    expect(defaults.router.has('AVIARY_CORS_ORIGINS')).toBe(false);
    expect(defaults.cp.has('AVIARY_PUBLIC_URL')).toBe(false);
    expect(defaults.cp.has('AVIARY_NOTIFY_HOSTS')).toBe(false);
    // Nobody may force a version unless keys are listed.
    expect(defaults.router.has('AVIARY_FORCE_VERSION_KEYS')).toBe(false);
  });
});

describe('values.schema.json', () => {
  it.each<[string, string[], RegExp]>([
    [
      'a negative replica count',
      ['--set', 'controlPlane.replicas=-1'],
      /'\/controlPlane\/replicas'.*minimum/s,
    ],
    ['an unknown flag source', ['--set', 'flags.source=consul'], /'\/flags\/source'/],
    ['an unknown SASL mechanism', ['--set', 'kafka.sasl.mechanism=gssapi'], /'\/kafka\/sasl\/mechanism'/],
    ['SASL without its Secret', ['--set', 'kafka.sasl.mechanism=plain'], /'\/kafka\/sasl\/existingSecret'/],
    ['brokers without a port', ['--set', 'kafka.brokers=kafka'], /'\/kafka\/brokers'/],
    ['no database Secret', ['--set', 'database.existingSecret='], /'\/database\/existingSecret'/],
    [
      'an unknown analysis mode',
      ['--set', 'controlPlane.analysis=yolo'],
      /'\/controlPlane\/analysis'.*guardrails/s,
    ],
    [
      'running as root',
      ['--set', 'podSecurityContext.runAsNonRoot=false'],
      /'\/podSecurityContext\/runAsNonRoot': value must be true/,
    ],
    ['a misspelt key', ['--set', 'router.replica=3'], /'\/router'.*replica/s],
    [
      'a judge without a model',
      ['--set', 'analyzer.judge.url=https://judge.example/v1'],
      /'\/analyzer\/judge\/model'/,
    ],
    ['an unknown router auth mode', ['--set', 'router.auth.mode=maybe'], /'\/router\/auth\/mode'/],
    ['a sampler ratio above 1', ['--set', 'tracing.samplerArg=2'], /'\/tracing\/samplerArg'/],
    ['an OTLP endpoint without a scheme', ['--set', 'tracing.endpoint=otel:4318'], /'\/tracing\/endpoint'/],
    ['an unknown sampler', ['--set', 'tracing.sampler=jaeger_remote'], /'\/tracing\/sampler'/],
    [
      'a notification timeout the control plane refuses',
      ['--set', 'controlPlane.notifications.timeoutMs=0'],
      /'\/controlPlane\/notifications\/timeoutMs'/,
    ],
    [
      'a force-version header not starting with x-',
      ['--set', 'router.forceVersion.header=Debug'],
      /'\/router\/forceVersion\/header'/,
    ],
    [
      'a CORS origin with a path',
      ['--set', 'router.corsOrigins[0]=https://chat.example.com/app'],
      /'\/router\/corsOrigins\/0'/,
    ],
    [
      'a shadow timeout the router refuses',
      ['--set', 'router.shadow.timeoutMs=900000'],
      /'\/router\/shadow\/timeoutMs'/,
    ],
  ])('refuses %s, naming the value', (_name, args, message) => {
    const r = helm(['template', 'aviary', chart, '--kube-version', KUBE_VERSION, ...args]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema");
    expect(r.stderr).toMatch(message);
  });
});
