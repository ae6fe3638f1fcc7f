// A hook's answer goes to Haraka once, whatever fails after it was given (haraka-plugin-rspamd's
// nextOnce): a second next() would answer the next command in its place.

export function once<Args extends unknown[]>(answer: (...args: Args) => void): (...args: Args) => void {
  let answered = false
  return (...args) => {
    if (answered) return
    answered = true
    answer(...args)
  }
}
