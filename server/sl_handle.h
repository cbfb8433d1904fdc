/*
 * sl_handle.h - one handler per route; each file serves one resource.
 * A handler reads the request, decodes with api/, computes with fitting/,
 * persists with the store and encodes with api/, in that visible order.
 */
#ifndef SL_HANDLE_H
#define SL_HANDLE_H

#include "sl_http.h"

/* sl_handle_laws.c */
struct sl_law_record;
/* The law named in the path, at ?version= or latest. On failure it has
 * answered (400 bad version, 404 unknown law) and returns -1. */
int sl_handle_path_law(sl_request *req, struct sl_law_record *rec);

void sl_handle_laws_list(sl_request *req);
void sl_handle_law_get(sl_request *req);
void sl_handle_law_versions(sl_request *req);
void sl_handle_law_put(sl_request *req);
void sl_handle_law_delete(sl_request *req);

/* sl_handle_queries.c */
void sl_handle_loss(sl_request *req);
void sl_handle_loss_batch(sl_request *req);
void sl_handle_optimal_sparsity(sl_request *req);
void sl_handle_plan(sl_request *req);
void sl_handle_equivalent_dense(sl_request *req);
void sl_handle_curve_loss_vs_data(sl_request *req);
void sl_handle_curve_optimal_sparsity(sl_request *req);
void sl_handle_contours(sl_request *req);

/* sl_handle_datasets.c */
void sl_handle_dataset_create(sl_request *req);
void sl_handle_datasets_list(sl_request *req);
void sl_handle_dataset_get(sl_request *req);
void sl_handle_dataset_delete(sl_request *req);
void sl_handle_dataset_append(sl_request *req);

/* sl_handle_fits.c */
void sl_handle_fit_create(sl_request *req);
void sl_handle_fit_get(sl_request *req);

/* sl_handle_sweeps.c */
void sl_handle_sweep_create(sl_request *req);
void sl_handle_sweep_get(sl_request *req);
void sl_handle_sweep_delete(sl_request *req);
void sl_handle_run_get(sl_request *req);
void sl_handle_run_delete(sl_request *req);
void sl_handle_run_report(sl_request *req);

/* sl_handle_ops.c */
void sl_handle_healthz(sl_request *req);
void sl_handle_metrics(sl_request *req);
void sl_handle_openapi(sl_request *req);
void sl_handle_static(sl_request *req);

#endif
