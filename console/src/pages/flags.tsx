/**
 * Feature flags (admins, on the Workers page): each flag's value, default, overrides and what it
 * does; turned on or off globally (with a confirmation: it reaches every manager and worker at
 * once), a global override removed; the latest changes with who made them.
 */
import { call } from '../api.ts';
import { ConfirmButton, ErrorBox, Loading, ScrollRegion, useAction, useLoad, When } from '../ui.tsx';

const onOff = (v: boolean) => (v ? 'on' : 'off');

export function FlagsSection() {
  const flags = useLoad((signal) => call('get', '/v1/flags', { signal }), []);
  const changes = useLoad((signal) => call('get', '/v1/flags/changes', { signal }), []);
  const act = useAction();
  const reload = () => {
    flags.reload();
    changes.reload();
  };
  const items = flags.data?.items ?? [];
  const recent = [...(changes.data?.items ?? [])].reverse().slice(0, 10);
  return (
    <section aria-labelledby="flags-h">
      <h2 id="flags-h">Feature flags</h2>
      <p class="muted small">
        A change reaches every manager and worker within a second, without a restart. Per-worker overrides:{' '}
        <code>appproxy flags set NAME off --scope worker:AUTHORITY</code>.
      </p>
      <ErrorBox error={flags.error ?? act.error} />
      {flags.loading && !flags.data ? (
        <Loading />
      ) : (
        <ScrollRegion label="Feature flags">
          <table>
            <thead>
              <tr>
                <th scope="col">Flag</th>
                <th scope="col">Value</th>
                <th scope="col">Default</th>
                <th scope="col">Overrides</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((f) => {
                const global = f.overrides.some((o) => o.scope === 'global');
                return (
                  <tr key={f.name}>
                    <td>
                      <code>{f.name}</code>
                      <div class="muted small">{f.description}</div>
                    </td>
                    <td>
                      <span class={f.value === f.default ? 'badge ok' : 'badge wait'}>{onOff(f.value)}</span>
                    </td>
                    <td>{onOff(f.default)}</td>
                    <td class="small">
                      {f.overrides.length === 0
                        ? '–'
                        : f.overrides.map((o) => `${o.scope}=${onOff(o.value)}`).join(', ')}
                    </td>
                    <td class="actions">
                      <ConfirmButton
                        label={f.value ? 'Turn off' : 'Turn on'}
                        question={`${f.when} Turn it ${f.value ? 'off' : 'on'} everywhere?`}
                        onConfirm={() =>
                          void act
                            .run(() =>
                              call('put', '/v1/flags/{name}', {
                                path: { name: f.name },
                                body: { value: !f.value },
                              }),
                            )
                            .then(reload)
                        }
                      />{' '}
                      {global ? (
                        <button
                          type="button"
                          disabled={act.busy}
                          onClick={() =>
                            void act
                              .run(() => call('delete', '/v1/flags/{name}', { path: { name: f.name } }))
                              .then(reload)
                          }
                        >
                          {`Reset ${f.name}`}
                        </button>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollRegion>
      )}
      {recent.length > 0 ? (
        <>
          <h3>Latest changes</h3>
          <ol class="timeline">
            {recent.map((c) => (
              <li key={c.id}>
                <When at={c.at} /> <code>{c.name}</code> {c.scope}:{' '}
                {c.value === null
                  ? `unset (was ${c.previous === null ? '–' : onOff(c.previous)})`
                  : onOff(c.value)}{' '}
                <span class="muted small">by {c.byName ?? c.by ?? 'unknown'}</span>
              </li>
            ))}
          </ol>
        </>
      ) : null}
    </section>
  );
}
