/** GET …/responses query parameters: a bad one is named, so the route's 400 carries it as a detail path. */
import { parsePageQuery } from "../../src/gather/responsesPage";

const query = (params: Record<string, string>) => parsePageQuery({ get: (name) => params[name] ?? null });

test("defaults, and every bad parameter named by its path", () => {
  expect(query({})).toEqual({ ok: true, value: { offset: 0, limit: 100 } });
  expect(query({ offset: "5", limit: "1000", status: "abandoned" })).toEqual({
    ok: true,
    value: { offset: 5, limit: 1000, status: "abandoned" },
  });
  for (const [params, path] of [
    [{ offset: "-1" }, "offset"],
    [{ offset: "x" }, "offset"],
    [{ limit: "0" }, "limit"],
    [{ limit: "1001" }, "limit"],
    [{ status: "bogus" }, "status"],
  ] as const)
    expect(query(params)).toMatchObject({ ok: false, path, message: expect.stringContaining(path) });
});
