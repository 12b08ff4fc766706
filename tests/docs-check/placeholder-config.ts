// The `./meshwork.config.ts` a guide imports without showing it: the reader's own config.
import { defineConfig } from "@meshwork/rules";

export default defineConfig({ workspaces: [], connections: [], rules: [] });
