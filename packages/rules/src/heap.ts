/** An item of a `DueHeap`: it carries its own position so it can be moved or removed. */
export interface HeapItem {
  due: number;
  heapIndex: number;
}

/** A binary min-heap on `due`, with O(log n) removal; one timer serves the whole heap. */
export class DueHeap<T extends HeapItem> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top) this.removeAt(0);
    return top;
  }

  remove(item: T): void {
    if (item.heapIndex >= 0 && this.items[item.heapIndex] === item) this.removeAt(item.heapIndex);
  }

  has(item: T): boolean {
    return item.heapIndex >= 0 && this.items[item.heapIndex] === item;
  }

  clear(): T[] {
    const all = this.items.splice(0);
    for (const item of all) item.heapIndex = -1;
    return all;
  }

  private removeAt(index: number): void {
    const removed = this.items[index]!;
    const last = this.items.pop()!;
    removed.heapIndex = -1;
    if (index < this.items.length) {
      this.items[index] = last;
      last.heapIndex = index;
      this.down(index);
      this.up(last.heapIndex);
    }
  }

  private up(index: number): void {
    const items = this.items;
    const item = items[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const other = items[parent]!;
      if (other.due <= item.due) break;
      items[index] = other;
      other.heapIndex = index;
      index = parent;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  private down(index: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && items[right]!.due < items[left]!.due ? right : left;
      const other = items[child]!;
      if (other.due >= item.due) break;
      items[index] = other;
      other.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
