/** Workers (admins): health, mode, circuits, drain and undrain; the feature flags they apply. */
import { call } from '../api.ts';
import { Empty, ErrorBox, Loading, ScrollRegion, useAction, useLoad, When } from '../ui.tsx';
import { FlagsSection } from './flags.tsx';

export function WorkersPage() {
  const workers = useLoad((signal) => call('get', '/v1/workers', { signal }), [], 5000);
  const act = useAction();
  const items = workers.data?.items ?? [];
  return (
    <section aria-labelledby="workers-h">
      <h1 id="workers-h">Workers</h1>
      <p class="muted">A draining worker takes no new circuit; the ones it serves stay until they close.</p>
      <ErrorBox error={workers.error ?? act.error} />
      {workers.loading && !workers.data ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty>
          No worker has registered. Start one (`appproxy worker`) or the embedded system (`npm start`).
        </Empty>
      ) : (
        <ScrollRegion label="Workers">
          <table>
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Mode</th>
                <th scope="col">Health</th>
                <th scope="col">Circuits</th>
                <th scope="col">Slots</th>
                <th scope="col">Last seen</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((w) => {
                const slots = w.portRange ? w.portRange[1] - w.portRange[0] + 1 : null;
                return (
                  <tr key={w.authority}>
                    <td>
                      <strong>{w.authority}</strong>
                      <div class="muted small">
                        {w.publicScheme}://{w.publicHost}
                        {w.publicPort ? `:${w.publicPort}` : ''} · {w.protocols.join(', ')}
                      </div>
                    </td>
                    <td>{w.frontendMode}</td>
                    <td>
                      <span class={`badge ${w.healthy ? 'ok' : 'bad'}`}>
                        {w.healthy ? 'healthy' : 'unhealthy'}
                      </span>
                      {w.draining ? <span class="badge wait">draining</span> : null}
                    </td>
                    <td>{w.circuits}</td>
                    <td>
                      {slots === null ? <span class="muted">–</span> : `${w.circuits} of ${slots} used`}
                    </td>
                    <td>
                      <When at={w.lastSeenAt} />
                    </td>
                    <td class="actions">
                      <button
                        type="button"
                        disabled={act.busy}
                        onClick={() =>
                          void act
                            .run(() =>
                              call(
                                'post',
                                w.draining
                                  ? '/v1/workers/{authority}/undrain'
                                  : '/v1/workers/{authority}/drain',
                                {
                                  path: { authority: w.authority },
                                },
                              ),
                            )
                            .then(workers.reload)
                        }
                      >
                        {w.draining ? 'Undrain' : 'Drain'} {w.authority}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollRegion>
      )}
      <FlagsSection />
    </section>
  );
}
