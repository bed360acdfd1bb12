/**
 * `Operation` is one completed (or abandoned) client request in a history: what the client
 * asked (`input`), what it was told (`output`), and the real-time interval `[call, return]` in
 * which it was outstanding.
 *
 * - `call` and `return` are timestamps on one clock shared by all clients (e.g. simulated ms).
 *   `call` must be finite and `call <= return`.
 * - Unknown outcome: an operation whose response never arrived (a timed-out write may or may
 *   not have taken effect) is recorded with `return: Infinity` and an output the model accepts
 *   in every state (the KV model uses `undefined`). It may then linearize anywhere after its
 *   call, and linearizing it after every other operation is the same as "it never happened",
 *   so both outcomes are covered (porcupine's convention).
 *   NB: a *finite* `return` forces the operation to take effect before it; only `Infinity`
 *   expresses "maybe never".
 */
export interface Operation<Input, Output> {
  /** The client that issued the operation; informational (ordering comes from the times). */
  readonly clientId: number;
  /** What the client asked. */
  readonly input: Input;
  /** What it was told (for an unknown outcome, a value the model accepts in every state). */
  readonly output: Output;
  /** When the request was sent. */
  readonly call: number;
  /** When the response arrived, or `Infinity` when the outcome is unknown. */
  readonly return: number;
}

/** `StepResult` is a model transition: whether the output is legal, and the next state. */
export interface StepResult<State> {
  /** True if `output` is a legal answer to `input` in the state. */
  readonly ok: boolean;
  /** The state after the operation; ignored when `ok` is false. */
  readonly state: State;
}

/**
 * `Model` is the sequential specification a history is checked against (porcupine's `Model`).
 *
 * Correctness:
 * - `init` and `step` are pure and deterministic; states are never mutated in place (the
 *   checker keeps old states on its backtracking stack and in its cache).
 * - `step` must accept an unknown-outcome operation's output in every state, and then
 *   return the state as if the operation had taken effect.
 * - `equal` must be an equivalence relation, and `hash` must agree with it
 *   (`equal(a, b)` implies `hash(a) === hash(b)`).
 * - `partitionKey`: operations with different keys must act on disjoint parts of the state.
 *   Then the history is linearizable iff every partition is (locality, Herlihy & Wing 1990;
 *   P-compositionality, Horn & Kroening 2015), and a partitioned model's state need only
 *   describe one partition.
 * - `readOnly` may be true only for operations that leave every state unchanged.
 */
export interface Model<State, Input, Output> {
  /** The state before any operation. */
  init(): State;
  /** Applies `input` to `state`; `ok` is false when `output` is impossible in `state`. */
  step(state: State, input: Input, output: Output): StepResult<State>;
  /**
   * Whether two states are interchangeable for the rest of the search. Defaults to
   * `hash(a) === hash(b)` when `hash` is given, else `Object.is`; so primitive states need
   * neither, and structured states need at least one of them.
   */
  equal?(a: State, b: State): boolean;
  /** A canonical string for `state`, used to memoize the search; see `equal`. */
  hash?(state: State): string;
  /**
   * The partition an operation belongs to (e.g. its key). Operations in different partitions
   * are checked independently, which turns one exponential search into many small ones.
   *
   * NB: porcupine takes `partition(history): Operation[][]`; a key per input is equivalent
   * for disjoint partitions, cannot lose or duplicate operations, and names the partition in
   * the report. It reads the input only, because an unknown outcome has no meaningful output.
   */
  partitionKey?(input: Input): string;
  /**
   * An optional pruning hint: true if the operation never changes the state, i.e. whenever
   * `step(s, input, output)` is ok its state equals `s`, for every `s` (a read, a failed
   * cas). The checker then linearizes such an op as soon as it is legal, without branching.
   * NB: a wrong `true` (e.g. for a cas whose outcome is unknown) can make a linearizable
   * history look illegal.
   */
  readOnly?(input: Input, output: Output): boolean;
  /** A one-line rendering of an operation for reports, e.g. `put("x", "1") → ok`. */
  describeOperation?(input: Input, output: Output): string;
  /** A one-line rendering of a state for reports. */
  describeState?(state: State): string;
}
