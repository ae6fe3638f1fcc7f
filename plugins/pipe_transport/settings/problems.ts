// What is wrong with the config, collected rather than thrown: every problem is reported, not just
// the first, each naming its section and key, so an operator fixes a file in one pass. An error
// keeps the config from being used; a warning is a setting that works but is most likely not what
// the operator meant.

export interface ConfigProblem {
  readonly section: string
  readonly key?: string
  readonly message: string
}

export function formatProblem(file: string, problem: ConfigProblem): string {
  return `${file} [${problem.section}]${problem.key === undefined ? '' : ` ${problem.key}`}: ${problem.message}`
}

export class Problems {
  private readonly errorList: ConfigProblem[] = []
  private readonly warningList: ConfigProblem[] = []

  error(section: string, key: string | undefined, message: string): void {
    this.errorList.push(key === undefined ? { section, message } : { section, key, message })
  }

  warn(section: string, key: string | undefined, message: string): void {
    this.warningList.push(key === undefined ? { section, message } : { section, key, message })
  }

  get hasErrors(): boolean {
    return this.errorList.length > 0
  }

  /** [main.code] and [main.env] are read once per instance; each of their problems is listed once. */
  get errors(): ConfigProblem[] {
    return once(this.errorList)
  }

  get warnings(): ConfigProblem[] {
    return once(this.warningList)
  }
}

function once(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return [...new Map(problems.map((problem) => [formatProblem('', problem), problem])).values()]
}
