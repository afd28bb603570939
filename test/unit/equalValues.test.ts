import { EqualValueCounter } from "../../src/gather/equalValues";

describe("EqualValueCounter", () => {
  test("groups deep-equal values whatever their key order; largest and leader", () => {
    const counter = new EqualValueCounter();
    expect(counter.largest).toBe(0);
    expect(counter.leader).toBeUndefined();
    counter.add({ a: 1, b: [1, 2] });
    counter.add("x");
    counter.add({ b: [1, 2], a: 1 });
    expect(counter.largest).toBe(2);
    expect(counter.leader).toEqual({ value: { a: 1, b: [1, 2] }, count: 2 });
  });

  test("on a tie the value that reached the count first leads", () => {
    const counter = new EqualValueCounter();
    for (const v of ["b", "a", "a", "b"]) counter.add(v);
    expect(counter.leader).toEqual({ value: "a", count: 2 });
  });
});
