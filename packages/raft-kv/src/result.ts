/** What applying one log entry returned; the proposer's `propose()` resolves with it. */
export interface KvResult {
  /** Log index of the entry (for a `duplicate`: of the entry that applied the command). */
  index: number;
  /** put: true; delete: the key existed; cas: swapped. */
  ok: boolean;
  /** The value before the command. */
  prev: string | null;
  /** The value after the command (for a failed cas: the value that blocked it). */
  current: string | null;
  /** Answered from the session table: the command was applied once before, not again now. */
  duplicate?: true;
  /**
   * Not applied at all (`ok` false). `SessionExpired`: the session no longer holds this seq's
   * result, so the outcome of the earlier attempt is unknown. `InvalidCommand`: the entry did
   * not decode.
   */
  error?: 'SessionExpired' | 'InvalidCommand';
}
