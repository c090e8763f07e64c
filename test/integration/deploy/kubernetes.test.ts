/**
 * deploy/kubernetes: every manifest is a valid Kubernetes object (the kubernetes-models schemas,
 * plus TypeScript's excess-property check over the same models, which catches a misspelled
 * field), the ConfigMaps hold configs the project's loaders accept, the probes reach paths and
 * ports the processes really serve, and the NetworkPolicies admit exactly the flows AppProxy
 * needs.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import {
  isLoopback,
  isSecretEnv,
  listeningPorts,
  loadConfigFor,
  type ProcessConfig,
  packageJson,
  probeTarget,
  ROOT,
  readRepo,
  resolveCli,
  sourcesMention,
} from './support.ts';

const DIR = 'deploy/kubernetes';
const TEMPLATE = 'secrets.template.yaml';

type Obj = Record<string, any>;

interface Doc {
  file: string;
  obj: Obj;
}

/** Kubernetes reads manifests as YAML 1.1 (0440 is octal, `yes` a boolean): so does this. */
function parseFile(file: string): Doc[] {
  const docs = parseAllDocuments(readRepo(`${DIR}/${file}`), { version: '1.1' });
  const out: Doc[] = [];
  for (const d of docs) {
    const problems = [...d.errors, ...d.warnings].map((e) => e.message);
    assert.deepEqual(problems, [], `${file}: YAML problems`);
    const obj = d.toJS() as Obj | null;
    if (obj !== null) out.push({ file, obj });
  }
  return out;
}

const kustomization = parseFile('kustomization.yaml')[0]?.obj as Obj;
const resourceFiles: string[] = kustomization.resources;
const docs = resourceFiles.flatMap(parseFile);
const secretsTemplate = parseFile(TEMPLATE);
const NAMESPACE: string = kustomization.namespace;

const name = (d: Doc) => `${d.file}: ${d.obj.kind}/${d.obj.metadata?.name}`;
const ofKind = (kind: string) => docs.filter((d) => d.obj.kind === kind);
const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'];
const workloads = docs.filter((d) => WORKLOAD_KINDS.includes(d.obj.kind));

function byName(kind: string, n: string): Obj {
  const d = docs.find((x) => x.obj.kind === kind && x.obj.metadata?.name === n);
  assert.ok(d, `no ${kind} ${n}`);
  return d.obj;
}

function podSpec(w: Obj): Obj {
  return w.spec.template.spec;
}

function allContainers(w: Obj): Obj[] {
  const s = podSpec(w);
  return [...(s.initContainers ?? []), ...s.containers];
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const podLabels = (w: Obj): Record<string, string> => w.spec.template.metadata.labels ?? {};

/** The appproxy image's containers: the image runs `appproxy <args>` (its ENTRYPOINT). */
const isAppproxy = (c: Obj) => /^appproxy(:|$)/.test(c.image);

interface RunningProcess {
  workload: Obj;
  container: Obj;
  process: ProcessConfig;
}

/** The file a container's `--config` path holds: the ConfigMap key mounted there. */
function configText(w: Obj, c: Obj, path: string): string {
  const mount = (c.volumeMounts ?? []).find((m: Obj) => path.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `${c.name}: nothing is mounted at ${path}`);
  const rel = path.slice(mount.mountPath.length + 1);
  const vol = podSpec(w).volumes.find((v: Obj) => v.name === mount.name);
  assert.ok(vol?.configMap, `${c.name}: ${path} is not on a ConfigMap volume`);
  const item = (vol.configMap.items as Obj[] | undefined)?.find((i) => i.path === rel);
  const key = item ? item.key : rel;
  const text = byName('ConfigMap', vol.configMap.name).data?.[key];
  assert.equal(typeof text, 'string', `ConfigMap ${vol.configMap.name} has no key ${key} (for ${path})`);
  return text as string;
}

/** Every AppProxy process the manifests run, with the config it would load. */
function processes(): RunningProcess[] {
  const out: RunningProcess[] = [];
  for (const d of workloads) {
    for (const c of allContainers(d.obj)) {
      if (!isAppproxy(c) || c.command) continue;
      const invocation = resolveCli(c.args ?? []);
      const path = invocation.options.config;
      assert.equal(typeof path, 'string', `${name(d)} ${c.name}: no --config`);
      const env = Object.fromEntries(
        (c.env ?? []).filter((e: Obj) => typeof e.value === 'string').map((e: Obj) => [e.name, e.value]),
      );
      const process = loadConfigFor(invocation, configText(d.obj, c, path as string), env);
      out.push({ workload: d.obj, container: c, process });
    }
  }
  return out;
}

test('kustomization.yaml lists every manifest but the Secret template', () => {
  const known = ['apiVersion', 'kind', 'namespace', 'resources', 'images', 'labels', 'commonAnnotations'];
  for (const k of Object.keys(kustomization))
    assert.ok(known.includes(k), `kustomization: unknown field ${k}`);
  assert.equal(kustomization.kind, 'Kustomization');
  const yamls = readdirSync(join(ROOT, DIR)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  assert.deepEqual(
    [...resourceFiles].sort(),
    yamls.filter((f) => f !== TEMPLATE).sort(),
    'resources: every manifest, and never the Secret template',
  );
  const ns = ofKind('Namespace');
  assert.deepEqual(
    ns.map((d) => d.obj.metadata.name),
    [NAMESPACE],
  );
});

test('every manifest validates against the Kubernetes schemas (kubernetes-models)', async () => {
  for (const d of [...docs, ...secretsTemplate]) {
    const { apiVersion, kind } = d.obj;
    const mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<
      string,
      new (
        data: unknown,
      ) => { validate(): void }
    >;
    const Model = mod[kind];
    assert.ok(Model, `${name(d)}: kubernetes-models has no ${apiVersion} ${kind}`);
    assert.doesNotThrow(() => new Model(d.obj).validate(), `${name(d)}`);
  }
});

test('no manifest has a field Kubernetes does not know (TypeScript over the same models)', () => {
  // The JSON schemas let unknown fields through (the API server drops them: a misspelled
  // `readinessProbes` would silently mean "no probe"). Assigning each manifest, as an object
  // literal, to the model's interface makes TypeScript report every unknown or mistyped field.
  const all = [...docs, ...secretsTemplate];
  const file = join(ROOT, DIR, '__manifests__.ts');
  const lines = all.map((d, i) => {
    const { apiVersion, kind } = d.obj;
    return `import type { I${kind} as T${i} } from 'kubernetes-models/${apiVersion}/${kind}';`;
  });
  const first = lines.length;
  all.forEach((d, i) => {
    lines.push(`export const m${i}: T${i} = ${JSON.stringify(d.obj)};`);
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (f, lang, ...rest) =>
    f === file ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, ...rest);
  host.fileExists = (f) => f === file || fileExists(f);
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file) as ts.SourceFile;
  const problems = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].map(
    (diag) => {
      const line = diag.start === undefined ? -1 : sf.getLineAndCharacterOfPosition(diag.start).line;
      const d = all[line - first];
      const where = d ? name(d) : `line ${line}`;
      return `${where}: ${ts.flattenDiagnosticMessageText(diag.messageText, ' ')}`;
    },
  );
  assert.deepEqual(problems, []);
});

test('ConfigMaps hold configs the processes accept, for the processes that mount them', () => {
  const ps = processes();
  const kinds = ps.map((p) => p.process.kind).sort();
  assert.deepEqual(kinds, ['agent', 'manager', 'manager migrate', 'worker', 'worker']);
  const workers = ps.flatMap((p) => (p.process.kind === 'worker' ? [p.process.config] : []));
  assert.deepEqual(workers.map((w) => w.frontendMode).sort(), ['port', 'wildcard']);
  assert.equal(new Set(workers.map((w) => w.authority)).size, workers.length, 'unique authorities');
  const agents = ps.flatMap((p) => (p.process.kind === 'agent' ? [p.process.config] : []));
  for (const p of ps) {
    if (p.process.kind === 'manager') {
      assert.equal(p.process.config.agent.kind, 'remote');
      assert.deepEqual(
        agents.map((a) => a.name),
        [p.process.config.agent.name],
        'the managers name the agent',
      );
    }
  }
  // Every key of every AppProxy ConfigMap is used by some process.
  for (const cm of ofKind('ConfigMap')) {
    for (const key of Object.keys(cm.obj.data ?? {})) {
      const used = ps.some((p) =>
        (p.container.volumeMounts ?? []).some((m: Obj) => {
          const v = podSpec(p.workload).volumes.find((x: Obj) => x.name === m.name);
          return (
            v?.configMap?.name === cm.obj.metadata.name &&
            (p.container.args as string[]).some((a) => a.endsWith(`/${key}`))
          );
        }),
      );
      assert.ok(used, `${name(cm)}: key ${key} is not the --config of any container`);
    }
  }
});

test('probes reach paths and ports the processes serve; liveness never depends on the stores', () => {
  const served = (port: Obj, c: Obj) =>
    typeof port === 'number' ? port : (c.ports ?? []).find((p: Obj) => p.name === port)?.containerPort;
  let checked = 0;
  for (const p of processes()) {
    const c = p.container;
    const where = `${p.workload.metadata.name}/${c.name}`;
    if (p.process.kind === 'manager migrate') continue;
    const target = probeTarget(p.process);
    if (!target) {
      for (const k of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        assert.equal(c[k]?.httpGet, undefined, `${where}: the ${p.process.kind} serves no HTTP`);
      }
      continue;
    }
    assert.ok(!isLoopback(target.host), `${where}: listens on ${target.host}; the kubelet cannot reach it`);
    const want = { livenessProbe: '/healthz', readinessProbe: '/readyz', startupProbe: '/healthz' };
    for (const [k, path] of Object.entries(want)) {
      const probe = c[k];
      if (k === 'startupProbe' && !probe) continue;
      assert.ok(probe?.httpGet, `${where}: ${k} must be an HTTP probe`);
      assert.ok(target.paths.has(probe.httpGet.path), `${where}: ${k} ${probe.httpGet.path} is not served`);
      assert.equal(probe.httpGet.path, path, `${where}: ${k}`);
      assert.equal(
        served(probe.httpGet.port, c),
        target.port,
        `${where}: ${k} port is not the one it listens on`,
      );
      checked++;
    }
  }
  assert.ok(checked >= 9);
});

test('container ports and Services point at ports the processes listen on', () => {
  const ps = processes();
  for (const w of workloads) {
    const own = ps.filter((p) => p.workload === w.obj && p.process.kind !== 'manager migrate');
    const listening = new Map<number, string>();
    for (const c of podSpec(w.obj).containers as Obj[]) {
      const ofC = own.filter((p) => p.container === c);
      const ports = ofC.length > 0 ? ofC.flatMap((p) => listeningPorts(p.process)) : null;
      for (const port of c.ports ?? []) {
        assert.ok(
          ports === null || ports.includes(port.containerPort),
          `${name(w)} ${c.name}: containerPort ${port.containerPort} is not a port it listens on`,
        );
      }
      for (const port of ports ?? (c.ports ?? []).map((p: Obj) => p.containerPort)) {
        assert.ok(!listening.has(port), `${name(w)}: port ${port} twice in one pod`);
        listening.set(port, c.name);
      }
    }
    for (const svc of ofKind('Service').filter((s) => matches(s.obj.spec.selector, podLabels(w.obj)))) {
      for (const sp of svc.obj.spec.ports as Obj[]) {
        const target =
          typeof sp.targetPort === 'string'
            ? (podSpec(w.obj).containers as Obj[])
                .flatMap((c) => c.ports ?? [])
                .find((p: Obj) => p.name === sp.targetPort)?.containerPort
            : (sp.targetPort ?? sp.port);
        assert.ok(listening.has(target), `${name(svc)}: port ${sp.name} → ${sp.targetPort} listens nowhere`);
      }
    }
  }
  for (const svc of ofKind('Service')) {
    assert.ok(
      workloads.some((w) => matches(svc.obj.spec.selector, podLabels(w.obj))),
      `${name(svc)} selects no pod`,
    );
  }
  // A Service takes no port ranges: the port-mode worker's range is listed port by port.
  const portWorker = ps.find((p) => p.process.kind === 'worker' && p.process.config.frontendMode === 'port');
  assert.ok(portWorker?.process.kind === 'worker' && portWorker.process.config.frontendMode === 'port');
  const [lo, hi] = portWorker.process.config.portRange;
  const published = ofKind('Service')
    .filter((s) => matches(s.obj.spec.selector, podLabels(portWorker.workload)))
    .flatMap((s) => (s.obj.spec.ports as Obj[]).map((p) => p.targetPort))
    .filter((p) => typeof p === 'number' && p >= lo && p <= hi);
  assert.deepEqual(
    published.sort((a, b) => a - b),
    Array.from({ length: hi - lo + 1 }, (_, k) => lo + k),
    'every port of portRange is published, once',
  );
});

test('the processes reach the stores the manifests run, and list every etcd member', () => {
  const etcd = byName('StatefulSet', 'appproxy-etcd');
  const members = Array.from({ length: etcd.spec.replicas }, (_, i) => `${etcd.metadata.name}-${i}`);
  assert.equal(members.length, 3);
  const args: string[] = podSpec(etcd).containers[0].args;
  const initial =
    args
      .find((a) => a.startsWith('--initial-cluster='))
      ?.split('=')
      .slice(1)
      .join('=') ?? '';
  assert.deepEqual(
    initial.split(',').map((m) => m.split('=')[0]),
    members,
    '--initial-cluster names every member',
  );
  /** host:port of a URL → the workload and container port behind it (Service or member DNS name). */
  const resolve = (url: string): { workload: string; port: number } => {
    const u = new URL(url);
    const [first, second] = u.hostname.split('.');
    const port = Number(u.port);
    const sts = workloads.find((w) => w.obj.kind === 'StatefulSet' && w.obj.spec.serviceName === second);
    if (second && sts) {
      assert.ok(members.includes(first as string) || sts.obj.metadata.name !== 'appproxy-etcd');
      return { workload: sts.obj.metadata.name, port };
    }
    const svc = byName('Service', first as string);
    const sp = (svc.spec.ports as Obj[]).find((p) => p.port === port);
    assert.ok(sp, `${url}: Service ${first} has no port ${port}`);
    const w = workloads.find((x) => matches(svc.spec.selector, podLabels(x.obj)));
    assert.ok(w, `${url}: Service ${first} selects nothing`);
    const target =
      typeof sp.targetPort === 'string'
        ? allContainers(w.obj)
            .flatMap((c) => c.ports ?? [])
            .find((p: Obj) => p.name === sp.targetPort)?.containerPort
        : sp.targetPort;
    return { workload: w.obj.metadata.name, port: target };
  };
  for (const p of processes()) {
    const stores = p.process.config.stores as {
      sql?: { url: string };
      kv: { endpoints: string[] };
      counters?: { url: string };
    };
    assert.deepEqual(
      stores.kv.endpoints.map((e) => new URL(e).hostname.split('.')[0]),
      members,
      `${p.container.name}: stores.kv.endpoints must list every etcd member`,
    );
    for (const e of stores.kv.endpoints) {
      assert.deepEqual(resolve(e), { workload: 'appproxy-etcd', port: 2379 }, e);
    }
    if (stores.sql) assert.deepEqual(resolve(stores.sql.url), { workload: 'appproxy-postgres', port: 5432 });
    if (stores.counters)
      assert.deepEqual(resolve(stores.counters.url), { workload: 'appproxy-redis', port: 6379 });
  }
});

test('workloads: replicas, update strategies and disruption budgets', () => {
  const manager = byName('Deployment', 'appproxy-manager');
  assert.ok(manager.spec.replicas >= 2, 'managers elect a leader: run at least two');
  const dataplane = byName('Deployment', 'appproxy-dataplane');
  // A worker authority is one process: a rolling update would run two at once.
  assert.equal(dataplane.spec.replicas, 1);
  assert.equal(dataplane.spec.strategy.type, 'Recreate');
  const etcd = byName('StatefulSet', 'appproxy-etcd');
  assert.equal(etcd.spec.replicas, 3);
  for (const pdb of ofKind('PodDisruptionBudget')) {
    const sel = pdb.obj.spec.selector.matchLabels;
    const w = workloads.filter((x) => matches(sel, podLabels(x.obj)));
    assert.equal(w.length, 1, `${name(pdb)} selects ${w.length} workloads`);
    const replicas = (w[0] as Doc).obj.spec.replicas;
    const { minAvailable, maxUnavailable } = pdb.obj.spec;
    if (minAvailable !== undefined)
      assert.ok(minAvailable < replicas, `${name(pdb)} would block every drain`);
    if (maxUnavailable !== undefined) assert.ok(maxUnavailable > 0, `${name(pdb)} would block every drain`);
  }
  const quorum = ofKind('PodDisruptionBudget').find((p) =>
    matches(p.obj.spec.selector.matchLabels, podLabels(etcd)),
  );
  assert.ok(quorum, 'etcd has a PodDisruptionBudget');
  assert.ok(quorum.obj.spec.maxUnavailable <= Math.floor((etcd.spec.replicas - 1) / 2), 'keeps the quorum');
  assert.ok(
    ofKind('PodDisruptionBudget').some((p) => matches(p.obj.spec.selector.matchLabels, podLabels(manager))),
    'managers have a PodDisruptionBudget',
  );
});

test('every container has requests and limits and meets the restricted Pod Security Standard', () => {
  for (const w of workloads) {
    const s = podSpec(w.obj);
    assert.equal(s.securityContext?.runAsNonRoot, true, `${name(w)}: runAsNonRoot`);
    assert.equal(s.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${name(w)}: seccompProfile`);
    assert.equal(
      s.automountServiceAccountToken,
      false,
      `${name(w)}: no API token: nothing here calls the API`,
    );
    // Service links would put <SERVICE>_PORT=tcp://… into the environment: a Service named
    // "appproxy" would set APPPROXY_PORT, which the processes read as their port.
    assert.equal(s.enableServiceLinks, false, `${name(w)}: enableServiceLinks`);
    for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) assert.ok(!s[k], `${name(w)}: ${k}`);
    for (const v of s.volumes ?? []) assert.equal(v.hostPath, undefined, `${name(w)}: hostPath volume`);
    for (const c of allContainers(w.obj)) {
      const where = `${name(w)} ${c.name}`;
      for (const r of ['requests', 'limits']) {
        for (const k of ['cpu', 'memory']) assert.ok(c.resources?.[r]?.[k], `${where}: resources.${r}.${k}`);
      }
      const sc = c.securityContext ?? {};
      assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
      assert.ok(sc.capabilities?.drop?.includes('ALL'), `${where}: capabilities.drop ALL`);
      assert.ok(!sc.privileged, `${where}: privileged`);
      assert.ok((sc.runAsUser ?? s.securityContext.runAsUser) > 0, `${where}: a non-root user id`);
    }
  }
});

test('images: the AppProxy image at the package version, third-party images pinned', () => {
  const images = kustomization.images as Obj[];
  assert.equal(
    images.find((i) => i.name === 'appproxy')?.newTag,
    packageJson.version,
    'kustomization images',
  );
  for (const w of workloads) {
    for (const c of allContainers(w.obj)) {
      const [repo, tag] = (c.image as string).split(/:(?=[^/:]+$)/);
      assert.ok(tag && tag !== 'latest', `${name(w)} ${c.name}: ${c.image} is not pinned`);
      if (repo === 'appproxy') assert.equal(tag, packageJson.version, `${name(w)} ${c.name}`);
    }
  }
});

test('secrets: from the Secrets only, every reference exists in the template, placeholders only', () => {
  const template = new Map(secretsTemplate.map((d) => [d.obj.metadata.name, d.obj]));
  for (const s of template.values()) {
    assert.equal(s.metadata.namespace, NAMESPACE);
    assert.equal(s.data, undefined, `${s.metadata.name}: stringData only, readable placeholders`);
    for (const [k, v] of Object.entries(s.stringData as Record<string, string>)) {
      assert.equal(v, 'CHANGE-ME', `Secret ${s.metadata.name} ${k}: the template holds placeholders only`);
    }
  }
  const refs: [string, string, string][] = [];
  for (const w of workloads) {
    for (const c of allContainers(w.obj)) {
      for (const e of c.env ?? []) {
        const where = `${name(w)} ${c.name} ${e.name}`;
        if (isAppproxy(c)) assert.ok(sourcesMention(e.name), `${where}: not read anywhere in src/`);
        if (isSecretEnv(e.name)) assert.ok(e.valueFrom?.secretKeyRef, `${where}: a secret from a Secret`);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) refs.push([where, ref.name, ref.key]);
      }
    }
    for (const v of podSpec(w.obj).volumes ?? []) {
      for (const item of v.secret?.items ?? [])
        refs.push([`${name(w)} ${v.name}`, v.secret.secretName, item.key]);
    }
  }
  assert.ok(refs.length > 0);
  for (const [where, secret, key] of refs) {
    assert.ok(
      template.get(secret)?.stringData?.[key] !== undefined,
      `${where}: ${secret}/${key} is not in ${TEMPLATE}`,
    );
  }
  // The signing key: copied by an init container into the file the manager's config names, with
  // a mode the manager accepts (it refuses a key others may read).
  const manager = processes().find((p) => p.process.kind === 'manager');
  assert.ok(manager?.process.kind === 'manager');
  const keyFile = manager.process.config.setupTokenKeyFile;
  const copier = (podSpec(manager.workload).initContainers as Obj[]).find((c) =>
    (c.command ?? []).join(' ').includes(keyFile),
  );
  assert.ok(copier, `no init container writes ${keyFile}`);
  assert.match((copier.command as string[]).join(' '), /install -m 0?600 /);
  const secretVol = podSpec(manager.workload).volumes.find(
    (v: Obj) => v.secret?.secretName === 'appproxy-manager',
  );
  assert.equal(secretVol.secret.defaultMode, 0o440, 'readable by the fsGroup, as YAML 1.1 reads 0440');
});

// ------------------------------------------------------------------ network policies

interface Peer {
  id: string;
  namespace: string;
  labels: Record<string, string>;
  /** Outside the cluster (matched by ipBlock only). */
  external?: boolean;
  /** Named container ports, for policies that name ports. */
  ports?: Record<string, number>;
}

/** The label every namespace carries (set by Kubernetes itself). */
const nsLabels = (ns: string) => ({ 'kubernetes.io/metadata.name': ns });

function peerOf(component: string): Peer {
  const w = workloads.find((x) => podLabels(x.obj)['app.kubernetes.io/component'] === component);
  assert.ok(w, `no workload ${component}`);
  const ports = Object.fromEntries(
    allContainers(w.obj)
      .flatMap((c) => c.ports ?? [])
      .map((p: Obj) => [p.name, p.containerPort]),
  );
  return { id: component, namespace: NAMESPACE, labels: podLabels(w.obj), ports };
}

const INTERNET: Peer = { id: 'internet', namespace: '', labels: {}, external: true };
const MONITORING: Peer = { id: 'prometheus', namespace: 'monitoring', labels: { app: 'prometheus' } };
const SESSION: Peer = { id: 'session pod', namespace: 'ml', labels: { 'appproxy/session-backend': 'true' } };
const OTHER_POD: Peer = { id: 'some pod', namespace: 'ml', labels: { app: 'notebook' } };
const DNS: Peer = { id: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };

function selectorMatches(sel: Obj | undefined, labels: Record<string, string>): boolean {
  if (sel === undefined) return true;
  assert.equal(sel.matchExpressions, undefined, 'matchExpressions: not modelled by this check');
  return matches(sel.matchLabels ?? {}, labels);
}

/** Whether a NetworkPolicy peer entry (`from`/`to` item) selects `p`, for a policy in NAMESPACE. */
function peerMatches(entry: Obj, p: Peer): boolean {
  if (entry.ipBlock) return p.external === true;
  if (p.external) return false;
  if (entry.namespaceSelector === undefined) {
    return p.namespace === NAMESPACE && selectorMatches(entry.podSelector, p.labels);
  }
  return (
    selectorMatches(entry.namespaceSelector, nsLabels(p.namespace)) &&
    selectorMatches(entry.podSelector, p.labels)
  );
}

function portMatches(rules: Obj[] | undefined, dst: Peer, port: number, protocol: string): boolean {
  if (!rules || rules.length === 0) return true;
  return rules.some((r) => {
    if ((r.protocol ?? 'TCP') !== protocol) return false;
    if (r.port === undefined) return true;
    const start = typeof r.port === 'string' ? dst.ports?.[r.port] : r.port;
    return start !== undefined && port >= start && port <= (r.endPort ?? start);
  });
}

/** Whether the policies selecting `pod` admit traffic with `other` in that direction. */
function admits(
  pod: Peer,
  type: 'Ingress' | 'Egress',
  other: Peer,
  dst: Peer,
  port: number,
  protocol: string,
): boolean {
  if (pod.external || pod.namespace !== NAMESPACE) return true; // not governed by these policies
  const applying = ofKind('NetworkPolicy')
    .map((d) => d.obj)
    .filter(
      (p) =>
        (p.spec.policyTypes ?? ['Ingress']).includes(type) && selectorMatches(p.spec.podSelector, pod.labels),
    );
  if (applying.length === 0) return true;
  const key = type === 'Ingress' ? 'ingress' : 'egress';
  const peers = type === 'Ingress' ? 'from' : 'to';
  return applying.some((p) =>
    ((p.spec[key] ?? []) as Obj[]).some(
      (rule) =>
        (rule[peers] === undefined || (rule[peers] as Obj[]).some((e) => peerMatches(e, other))) &&
        portMatches(rule.ports, dst, port, protocol),
    ),
  );
}

/** Whether `src` may open a connection to `dst` on `port`: its egress and `dst`'s ingress agree. */
function allowed(src: Peer, dst: Peer, port: number, protocol = 'TCP'): boolean {
  return admits(src, 'Egress', dst, dst, port, protocol) && admits(dst, 'Ingress', src, dst, port, protocol);
}

/** Whether `dst`'s own ingress policies admit `src`, whatever `src`'s egress says. */
const ingressAdmits = (src: Peer, dst: Peer, port: number) => admits(dst, 'Ingress', src, dst, port, 'TCP');

/** AppProxy's own pods, as network peers. */
const ownPeers = () =>
  ['manager', 'dataplane', 'etcd', 'redis', 'postgres'].map(peerOf) as [Peer, Peer, Peer, Peer, Peer];

test('network policies admit the flows AppProxy needs', () => {
  const [manager, dataplane, etcd, redis, postgres] = ownPeers();
  const needed: [Peer, Peer, number, string?][] = [
    [etcd, etcd, 2380],
    [manager, postgres, 5432],
    [manager, etcd, 2379],
    [manager, redis, 6379],
    [dataplane, etcd, 2379],
    [dataplane, redis, 6379],
    [dataplane, SESSION, 8888],
  ];
  for (const p of [manager, dataplane, etcd, redis, postgres]) needed.push([p, DNS, 53, 'UDP']);
  // Every port the processes listen on, from their configs: the API and the workers' public
  // ports from anywhere, the workers' admin listeners from the monitoring namespace.
  for (const { process } of processes()) {
    if (process.kind === 'manager') needed.push([INTERNET, manager, process.config.listen.port]);
    if (process.kind !== 'worker') continue;
    for (const port of listeningPorts(process)) {
      needed.push(
        port === process.config.admin.port ? [MONITORING, dataplane, port] : [INTERNET, dataplane, port],
      );
    }
  }
  for (const [src, dst, p, proto] of needed) {
    assert.ok(allowed(src, dst, p, proto), `${src.id} → ${dst.id}:${p} must be allowed`);
  }
});

test('network policies: stores only from AppProxy pods, no manager↔worker traffic, nothing else', () => {
  const [manager, dataplane, etcd, redis, postgres] = ownPeers();
  const outsiders = [INTERNET, MONITORING, SESSION, OTHER_POD, DNS];
  const stores: [Peer, number, Peer[]][] = [
    [postgres, 5432, [manager]],
    [etcd, 2379, [manager, dataplane, etcd]],
    [redis, 6379, [manager, dataplane]],
  ];
  // Each store's own ingress policy admits its clients and nobody else, so that a wider egress
  // rule elsewhere never opens a store.
  for (const [store, port, clients] of stores) {
    for (const src of [...outsiders, manager, dataplane, etcd, redis, postgres]) {
      const want = clients.includes(src);
      assert.equal(
        ingressAdmits(src, store, port),
        want,
        `${store.id}'s ingress policy and ${src.id}:${port}`,
      );
      assert.equal(allowed(src, store, port), want, `${src.id} → ${store.id}:${port}`);
    }
  }
  const forbidden: [Peer, Peer, number][] = [
    [dataplane, manager, 7070],
    [manager, dataplane, 7080],
    [manager, dataplane, 9101],
    [INTERNET, dataplane, 9101],
    [INTERNET, dataplane, 9102],
    [INTERNET, dataplane, 20016],
    [dataplane, OTHER_POD, 8888],
    [SESSION, dataplane, 9101],
    [manager, SESSION, 8888],
    [etcd, INTERNET, 443],
  ];
  for (const [src, dst, p] of forbidden)
    assert.ok(!allowed(src, dst, p), `${src.id} → ${dst.id}:${p} must be denied`);
});
