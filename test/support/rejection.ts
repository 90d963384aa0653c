/** What a promise that must fail rejected with, checked to be an instance of `type` (the test fails otherwise). */
import { expect } from "vitest";

export async function rejectionOf<E>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  return err as E;
}
