import type { NextConfig } from "next";

const config: NextConfig = {
  output: "standalone",
  poweredByHeader: false,
  reactStrictMode: true,
  // forbidden(): pages a user lacks the permission for answer 403 with their own screen.
  experimental: { authInterrupts: true },
};

export default config;
