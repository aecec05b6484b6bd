/**
 * Which replica of a range a Partial goes to first, and which next when it
 * fails: the one with the fewest calls outstanding from this gateway, ties
 * broken round-robin. Equal replicas get equal shares of the load; a replica
 * that answers slowly (a noisy neighbour, a long GC, a hung process) piles up
 * outstanding calls and so stops being chosen until it catches up.
 */
export class ReplicaPicker {
  private readonly outstanding = new Map<string, number>();
  private readonly turn = new Map<string, number>();

  /** Every replica, in the order to try them. */
  order(rangeKey: string, replicas: readonly string[]): string[] {
    const start = this.turn.get(rangeKey) ?? 0;
    this.turn.set(rangeKey, (start + 1) % Number.MAX_SAFE_INTEGER);
    const rotated = replicas.map((_, i) => replicas[(start + i) % replicas.length]!);
    // Array.prototype.sort is stable: replicas with equal load keep their rotated order.
    return rotated.sort((a, b) => this.load(a) - this.load(b));
  }

  begin(address: string): void {
    this.outstanding.set(address, this.load(address) + 1);
  }

  end(address: string): void {
    const left = this.load(address) - 1;
    if (left > 0) this.outstanding.set(address, left);
    else this.outstanding.delete(address);
  }

  load(address: string): number {
    return this.outstanding.get(address) ?? 0;
  }
}
