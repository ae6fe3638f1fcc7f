// A promise's value, or a fallback once a time has passed. The timer is cleared as soon as the
// race is decided: at hundreds of deliveries a second, timers left to run out on their own would
// pile up by the tens of thousands.

export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<F>((resolve) => (timer = setTimeout(resolve, ms, fallback)))])
  } finally {
    clearTimeout(timer)
  }
}
