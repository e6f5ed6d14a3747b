# The service in a container, built and started with the same commands the
# tests run: `npm ci`, `npm run build`, `node dist/server/main.js`.
# docker build -t pet-stream . && docker run --rm -p 3000:3000 pet-stream

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# The server (tsc, into dist/server and dist/shared), the workbench and the React example
# (Vite, into dist/web and dist/examples/react), and the client package (client/dist).
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node runs as PID 1 with its own SIGTERM handler: `docker stop` gets the graceful shutdown.
CMD ["node", "dist/server/main.js"]
