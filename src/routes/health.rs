//! `GET /healthz`: is the server up and its database reachable? A proxy takes an instance out
//! of rotation when it answers 503: its database is unreachable, or it is stopping.

use actix_web::{HttpResponse, web};

use crate::cluster::Cluster;
use crate::db::Pool;

pub async fn healthz(pool: web::Data<Pool>, cluster: web::Data<Cluster>) -> HttpResponse {
    if cluster.is_leaving() {
        return HttpResponse::ServiceUnavailable()
            .insert_header(("cache-control", "no-store"))
            .json(serde_json::json!({ "status": "stopping" }));
    }
    match sqlx::query_scalar::<_, i64>("select 1")
        .fetch_one(pool.get_ref())
        .await
    {
        Ok(_) => HttpResponse::Ok()
            .insert_header(("cache-control", "no-store"))
            .json(serde_json::json!({ "status": "ok", "database": "ok" })),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            HttpResponse::ServiceUnavailable()
                .insert_header(("cache-control", "no-store"))
                .json(serde_json::json!({ "status": "degraded", "database": "unreachable" }))
        }
    }
}
