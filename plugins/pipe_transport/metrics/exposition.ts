// What one scrape gets, as the process that serves metrics_listen is placed in Haraka: a single
// Haraka process (smtp.ini nodes = 0) serves its own metrics; a cluster master, which delivers
// nothing, asks each worker for its metrics and serves their sum (prom-client's
// AggregatorRegistry: counters and histograms added up, gauges too, so that programs running
// means running in all the workers together).
import type * as PromClient from 'prom-client'
import { metricsRegistry, promClient } from './delivery-metrics.js'

export interface Exposition {
  readonly contentType: string
  readonly text: string
}

export type ExpositionSource = () => Promise<Exposition>

/** This process's metrics. */
export const processExposition: ExpositionSource = async () => {
  const registry = metricsRegistry()
  if (!registry) throw new Error('metrics are off in this process')
  return { contentType: registry.contentType, text: await registry.metrics() }
}

let aggregator: PromClient.AggregatorRegistry<PromClient.PrometheusContentType> | undefined

/** The sum over the cluster's workers, asked for at each scrape (each worker answers within 5 s). */
export const clusterExposition: ExpositionSource = async () => {
  aggregator ??= new (promClient().AggregatorRegistry)()
  return { contentType: aggregator.contentType, text: await aggregator.clusterMetrics() }
}
