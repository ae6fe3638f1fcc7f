// The metrics as the plugin runs them: counted per process once a config turns them on
// (delivery-metrics.ts), and served at metrics_listen by the process Haraka starts first, a single
// Haraka with its own, a cluster master with the sum of its workers' (metrics-endpoint.ts).
import type { Settings } from '../settings/vocabulary.js'
import type { Result } from '../util/result.js'
import { metricsOn, useMetrics } from './delivery-metrics.js'
import { clusterExposition, processExposition } from './exposition.js'
import { MetricsEndpoint, type EndpointLog } from './metrics-endpoint.js'

export class PluginMetrics {
  private endpoint: MetricsEndpoint | undefined
  private settings: Settings | undefined

  /** At each load of the config; fails when prom-client cannot be loaded (metrics stay off). */
  use(settings: Settings): Result<void> {
    this.settings = settings
    const used = useMetrics(settings)
    this.endpoint?.use(metricsOn() ? settings.metricsListen : undefined)
    return used
  }

  /** In the process that serves the endpoint (hook_init_master): `cluster` for a cluster master. */
  serve(cluster: boolean, log: EndpointLog): void {
    this.endpoint = new MetricsEndpoint(cluster ? clusterExposition : processExposition, log)
    this.endpoint.use(metricsOn() ? this.settings?.metricsListen : undefined)
  }

  close(): Promise<void> | undefined {
    return this.endpoint?.close()
  }
}
