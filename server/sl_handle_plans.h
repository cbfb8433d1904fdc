/*
 * sl_handle_plans.h - what the query handlers share of sl_handle_plans.c:
 * readers of the planning parameters (hardware, strategy) and the
 * inference-aware branch of GET plan. Each reader, on failure, fills err
 * (or, where it says so, has answered) and returns -1.
 */
#ifndef SL_HANDLE_PLANS_H
#define SL_HANDLE_PLANS_H

#include "sl_http.h"
#include "sl_query.h"

struct sl_law_record;

/* hardware, peak_flops, mfu, price_per_hour, sparse_speedup into hw. */
int sl_handle_hardware_params(sl_request *req, sl_hardware *hw, sl_error *err);
/* The hardware columns of a curve or contour table: gpu_hours, and cost
 * with a price, when hw was given (empty where the law's compute is not
 * FLOPs, its data not in tokens). sl_handle_hardware_columns appends their
 * names to cols (at *ncols) and returns how many; sl_handle_hardware_row
 * fills them for a row's compute at its pattern ("dense", "unstructured",
 * "n:m"); sl_handle_hardware_table_json puts the settings and how the
 * columns are computed (or why they are empty) in body's "hardware" and
 * the columns' units in its "units". */
size_t sl_handle_hardware_columns(const sl_hardware *hw, const char **cols, size_t *ncols);
void sl_handle_hardware_row(const sl_hardware *hw, const struct sl_law_record *rec, size_t count,
                            double compute, const char *pattern, double *out);
void sl_handle_hardware_table_json(json_t *body, const sl_hardware *hw,
                                   const struct sl_law_record *rec);
/* strategy and pretrain_compute. */
int sl_handle_strategy_params(sl_request *req, sl_plan_strategy *strategy, double *pretrain,
                              sl_error *err);
/* 0 when s is inside the pretrained span; else has answered 422 naming field. */
int sl_handle_pretrained_range(sl_request *req, const char *field, double s);
/* GET plan with inference_tokens: N free (answers). */
void sl_handle_plan_inference(sl_request *req, const struct sl_law_record *rec);

#endif
