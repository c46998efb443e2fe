# R's survey package on the benchmark data: the method of docs/method.md, following
# tests/fixtures/analysis/make_reference.R (same raking, merging, trimming, design and
# domain estimation), timed. Called by bench/analysis.py:
#
#   Rscript bench/r_analysis.R DIR
#
# reads DIR/units_r.csv, population_r.csv, questionnaire.yaml, responses_r.csv and writes
# DIR/r_result.json: the timings (seconds, from data frames in R to results) and, per unit,
# n, n_eff, each indicator's estimate and SE, the composite's estimate, SE and deff.
#
# Differences from make_reference.R, none of which changes a number:
# - the reference's cross-checks by hand (var_by_hand, the second route to the composite's
#   variance) are left out: they are checks, not the method;
# - domain membership is computed once per level (vectorised), not by walking each
#   respondent's chain for each unit: on the benchmark data responses are attached to towns
#   and departments only, and margins are given for towns only, so a response's weighting
#   unit is its town (if that town has margins) and its domains are its town, the town's
#   county and the city, or its department alone;
# - the composite's variance is taken from svymean(~e, subset(des, d), deff = "replace"),
#   which the reference checks equals svyrecvar() of the linearised variable;
# - ranking, P(bottom N) and the interview list are not computed (R is timed on weighting and
#   estimation only; ours is timed on everything, so the ratio favours R).

suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
  library(yaml)
})
options(survey.lonely.psu = "certainty")
options(survey.adjust.domain.lonely = FALSE)

WEIGHT_CAP <- 5
RAKE_TOL <- 1e-10
RAKE_MAXIT <- 1000
TRIM_SLACK <- 1e-9
TRIM_ROUNDS <- 20

DIR <- commandArgs(trailingOnly = TRUE)[1]
read_csv_chr <- function(name) {
  read.csv(file.path(DIR, name), colClasses = "character", na.strings = character(0),
           check.names = FALSE, fileEncoding = "UTF-8-BOM", encoding = "UTF-8")
}

units <- read_csv_chr("units_r.csv")
population <- read_csv_chr("population_r.csv")
population$count <- as.numeric(population$count)
resp <- read_csv_chr("responses_r.csv")
q <- read_yaml(file.path(DIR, "questionnaire.yaml"))

# ---------------------------------------------------------------------------------------------
# The timed part starts here: inputs are data frames, as for analyse_wave().
# ---------------------------------------------------------------------------------------------
t_start <- proc.time()[["elapsed"]]

items <- setNames(q$items, vapply(q$items, function(it) it$key, ""))
option_codes <- function(item) vapply(item$options, function(o) as.character(o$code), "")
option_scores <- function(item) {
  sc <- list()
  for (o in item$options) if (!is.null(o$score)) sc[[as.character(o$code)]] <- as.numeric(o$score)
  unlist(sc)
}
dim_items <- list()
for (it in q$items) if (!is.null(it$dimension)) dim_items[[it$dimension]] <- it$key
indicators <- q$indicators
ind_keys <- vapply(indicators, function(i) i$key, "")
ind_weights <- vapply(indicators, function(i) if (is.null(i$weight)) NA_real_ else as.numeric(i$weight), 0)
names(ind_weights) <- ind_keys
comp_keys <- ind_keys[!is.na(ind_weights)]
a_k <- ind_weights[comp_keys] / sum(ind_weights[comp_keys])

parent <- setNames(units$parent_code, units$code)
kind <- setNames(units$kind, units$code)

margins <- list()
for (u in unique(population$unit_code)) {
  pu <- population[population$unit_code == u, ]
  m <- list()
  for (d in unique(pu$dimension)) {
    pd <- pu[pu$dimension == d, ]
    m[[d]] <- setNames(pd$count, pd$category)
  }
  margins[[u]] <- m
}

indicator_values <- function(resp) {
  score_of <- function(key) as.numeric(unname(option_scores(items[[key]])[resp[[key]]]))
  out <- list()
  for (ind in indicators) {
    if (!is.null(ind$items)) {
      m <- sapply(unlist(ind$items), score_of)
      if (is.null(dim(m))) m <- matrix(m, ncol = length(ind$items))
      n_ok <- rowSums(!is.na(m))
      v <- rowSums(m, na.rm = TRUE) / n_ok
      v[n_ok == 0] <- NA
    } else {
      it <- ind$share_of$item
      sc <- option_scores(items[[it]])
      ans <- resp[[it]]
      v <- ifelse(ans %in% unlist(ind$share_of$options), 100, ifelse(ans %in% names(sc), 0, NA_real_))
    }
    out[[ind$key]] <- as.numeric(v)
  }
  as.data.frame(out)
}

# ---- weights: as in make_reference.R -------------------------------------------------------
merge_categories <- function(codes, resp_counts, pop_counts) {
  groups <- as.list(codes)
  gsum <- function(g, x) sum(x[g])
  repeat {
    nr <- vapply(groups, gsum, 0, x = resp_counts)
    np <- vapply(groups, gsum, 0, x = pop_counts)
    bad <- which(nr == 0 | np == 0)
    if (!length(bad)) break
    if (length(groups) == 1) stop("cannot merge")
    i <- bad[1]
    if (i < length(groups)) groups[[i + 1]] <- c(groups[[i]], groups[[i + 1]])
    else groups[[i - 1]] <- c(groups[[i - 1]], groups[[i]])
    groups[[i]] <- NULL
  }
  groups
}

rake_once <- function(dat, w0, pops) {
  dat$.w0 <- w0
  des <- svydesign(ids = ~1, weights = ~.w0, data = dat)
  fmls <- lapply(names(pops), function(d) as.formula(paste0("~", d)))
  r <- withCallingHandlers(
    rake(des, sample.margins = fmls, population.margins = unname(pops),
         control = list(maxit = RAKE_MAXIT, epsilon = 1e-12, verbose = FALSE)),
    warning = function(w) invokeRestart("muffleWarning"))
  as.numeric(weights(r))
}

weight_unit <- function(u, resp, cap = WEIGHT_CAP) {
  m <- margins[[u]]
  dims <- names(dim_items)[names(dim_items) %in% names(m)]
  answered <- Reduce(`&`, lapply(dims, function(d) resp[[dim_items[[d]]]] != ""))
  rr <- resp[answered, , drop = FALSE]
  dat <- data.frame(row.names = seq_len(nrow(rr)))
  pops <- list()
  for (d in dims) {
    codes <- option_codes(items[[dim_items[[d]]]])
    ans <- rr[[dim_items[[d]]]]
    resp_counts <- setNames(vapply(codes, function(cd) sum(ans == cd), 0), codes)
    pop_counts <- setNames(vapply(codes, function(cd) if (cd %in% names(m[[d]])) m[[d]][[cd]] else 0, 0), codes)
    groups <- merge_categories(codes, resp_counts, pop_counts)
    labels <- vapply(groups, paste, "", collapse = "|")
    code2grp <- setNames(rep(labels, lengths(groups)), unlist(groups))
    col <- paste0("g_", d)
    dat[[col]] <- factor(code2grp[ans], levels = labels)
    pops[[col]] <- setNames(data.frame(factor(labels, levels = labels),
                                       vapply(groups, function(g) sum(pop_counts[g]), 0)),
                            c(col, "Freq"))
  }
  w <- rake_once(dat, rep(1, nrow(dat)), pops)
  rounds <- 0
  if (cap > 0) {
    ok <- max(w) <= cap * mean(w) * (1 + TRIM_SLACK)
    while (!ok && rounds < TRIM_ROUNDS) {
      rounds <- rounds + 1
      w <- rake_once(dat, pmin(w, cap * mean(w)), pops)
      ok <- max(w) <= cap * mean(w) * (1 + TRIM_SLACK)
    }
  }
  out <- rep(NA_real_, nrow(resp))
  out[answered] <- w
  out[!answered] <- mean(w)
  out
}

w <- rep(1, nrow(resp))
wu <- ifelse(resp$unit_code %in% names(margins), resp$unit_code, NA_character_)
for (u in sort(unique(na.omit(wu)), method = "radix")) {
  idx <- which(wu == u)
  w[idx] <- weight_unit(u, resp[idx, , drop = FALSE])
}
t_weights <- proc.time()[["elapsed"]]

# ---- design ----------------------------------------------------------------------------------
vals <- indicator_values(resp)
d <- cbind(resp[, c("response_id", "unit_code", "psu")], vals)
d$w <- w
d$stratum <- d$unit_code
d$psu_id <- ifelse(d$psu == "", paste0("__own__", d$response_id), d$psu)
is_dept <- kind[d$unit_code] == "department"
d$l_unit <- d$unit_code                                         # town or department
d$l_county <- ifelse(is_dept, "", parent[d$unit_code])
d$l_city <- ifelse(is_dept, "", parent[parent[d$unit_code]])
des <- svydesign(ids = ~psu_id, strata = ~stratum, weights = ~w, nest = TRUE, data = d)
t_design <- proc.time()[["elapsed"]]

# ---- domain estimates: every unit, as in make_reference.R -----------------------------------
level_col <- c(city = "l_city", county = "l_county", town = "l_unit", department = "l_unit")
out_units <- list()
for (u in units$code) {
  in_d <- d[[level_col[[kind[[u]]]]]] == u
  n <- sum(in_d)
  res <- list(code = u, n = n)
  if (n == 0) { out_units[[u]] <- res; next }
  wd <- d$w[in_d]
  res$n_eff <- sum(wd)^2 / sum(wd^2)
  ests <- list()
  inds <- list()
  for (k in ind_keys) {
    sel <- in_d & !is.na(d[[k]])
    if (!any(sel)) { ests[[k]] <- NA_real_; next }
    des$variables$.sel <- sel
    m <- svymean(as.formula(paste0("~", k)), subset(des, .sel))
    ests[[k]] <- unname(coef(m))
    inds[[k]] <- list(estimate = unname(coef(m)), se = unname(SE(m))[1], n = sum(sel))
  }
  res$indicators <- inds
  comp_ests <- unlist(ests[comp_keys])
  if (!any(is.na(comp_ests))) {
    z <- rep(0, nrow(d))
    for (k in comp_keys) {
      sel <- in_d & !is.na(d[[k]])
      z[sel] <- z[sel] + a_k[[k]] * d$w[sel] * (d[[k]][sel] - ests[[k]]) / sum(d$w[sel])
    }
    des$variables$e <- ifelse(in_d, z * sum(wd) / d$w, 0)
    des$variables$.sel <- in_d
    me <- svymean(~e, subset(des, .sel), deff = "replace")
    res$composite <- list(estimate = sum(a_k * comp_ests), se = sqrt(as.numeric(vcov(me))),
                          deff = unname(deff(me))[1])
  }
  out_units[[u]] <- res
}
t_end <- proc.time()[["elapsed"]]

result <- list(
  timings = list(weights = t_weights - t_start, design = t_design - t_weights,
                 estimates = t_end - t_design, total = t_end - t_start),
  n = nrow(resp), n_units = nrow(units), n_weighting_units = length(unique(na.omit(wu))),
  units = unname(out_units))
writeLines(toJSON(result, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           file.path(DIR, "r_result.json"), useBytes = TRUE)
cat(sprintf("R: weights %.2f s, design %.2f s, estimates %.2f s, total %.2f s\n",
            t_weights - t_start, t_design - t_weights, t_end - t_design, t_end - t_start))
