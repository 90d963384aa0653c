/**
 * zod/mini registers no locale: without one, every built-in issue reads "Invalid input". Classic zod installs
 * English when it builds its first schema; modules built on zod/mini import this file for that side effect,
 * so their messages (`z.prettifyError`, config errors) read the same whether or not classic zod is loaded.
 * Like classic zod, it leaves a locale someone configured explicitly alone. English is imported by its own
 * path: `z.locales.en` would keep all 60-odd locales in the bundle.
 */
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";

if (!z.config().localeError) z.config(en());
