/** Circuits: every open app (yours; everyone's for admins) with its activity and idle countdowns. */
import { call } from '../api.ts';
import { Empty, ErrorBox, Loading, useLoad } from '../ui.tsx';
import { CircuitCard } from './session.tsx';

export function CircuitsPage() {
  const circuits = useLoad(
    (signal) => call('get', '/v1/circuits', { signal }),
    [],
    30_000,
    (e) => e.circuitId !== null,
  );
  const items = (circuits.data?.items ?? []).filter((c) => c.state !== 'CLOSED');
  return (
    <section aria-labelledby="circuits-page-h">
      <h1 id="circuits-page-h">Circuits</h1>
      <p class="muted">
        Each open app: bytes each way, connections, and when its idle policies would act — and what activity
        resets them.
      </p>
      <ErrorBox error={circuits.error} />
      {circuits.loading && !circuits.data ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty>No open app. Open one from a session's page.</Empty>
      ) : (
        items.map((c) => <CircuitCard key={c.id} c={c} onClosed={circuits.reload} />)
      )}
    </section>
  );
}
