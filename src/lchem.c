/*
** lchem.c - Lua binding of chem, molvol and xray: module `chem`.
**
**   chem.molar_mass("LiC2F6NO4S2")          -> kg/mol
**   chem.molarity(r, rho, M_salt, M_solvent) -> mol/m^3 (and inverse)
**   chem.attenuation("C2H4O", 20)            -> m^2/kg, m^2/mol, kg/mol
**   fit = chem.fit_molar_volumes(r, rho, sigma [, opts])
**   chem.epsilon(fit, r), chem.kappa(fit, r), chem.concentration(fit, r)
*/
#include <math.h>

#include <lauxlib.h>
#include <lua.h>

#include "chem.h"
#include "larray.h"
#include "lbind.h"
#include "molvol.h"
#include "xray.h"

static double lchem_num(lua_State *L, int i, const char *fname)
{
	lua_Number v;
	int isnum;
	v = lua_tonumberx(L, i, &isnum);
	if (!isnum)
		luaL_error(L, "%s: argument %d must be a number", fname, i);
	return v;
}

static int lchem_molar_mass(lua_State *L)
{
	char err[ERR_LEN];
	double M;
	if (chem_molar_mass(luaL_checkstring(L, 1), &M, err))
		return lbind_error(L, "chem.molar_mass", err);
	lua_pushnumber(L, M);
	return 1;
}

typedef int (*lchem_conv2)(double, double, double *, char *);
typedef int (*lchem_conv4)(double, double, double, double, double *, char *);

static int lchem_two(lua_State *L, lchem_conv2 f, const char *fname)
{
	char err[ERR_LEN];
	double v;
	if (f(lchem_num(L, 1, fname), lchem_num(L, 2, fname), &v, err))
		return lbind_error(L, fname, err);
	lua_pushnumber(L, v);
	return 1;
}

/* M_salt and M_solvent default to the paper's LiTFSI and EO */
static int lchem_four(lua_State *L, lchem_conv4 f, const char *fname)
{
	char err[ERR_LEN];
	double v;
	double Ms = luaL_optnumber(L, 3, CHEM_M_LITFSI_PAPER);
	double Me = luaL_optnumber(L, 4, CHEM_M_EO_PAPER);
	if (f(lchem_num(L, 1, fname), lchem_num(L, 2, fname), Ms, Me, &v, err))
		return lbind_error(L, fname, err);
	lua_pushnumber(L, v);
	return 1;
}

static int lchem_molality(lua_State *L)
{
	lua_settop(L, 2);
	if (lua_isnil(L, 2)) {
		lua_pushnumber(L, CHEM_M_EO_PAPER);
		lua_replace(L, 2);
	}
	return lchem_two(L, chem_molality_from_r, "chem.molality");
}

static int lchem_r_from_molality(lua_State *L)
{
	lua_settop(L, 2);
	if (lua_isnil(L, 2)) {
		lua_pushnumber(L, CHEM_M_EO_PAPER);
		lua_replace(L, 2);
	}
	return lchem_two(L, chem_r_from_molality, "chem.r_from_molality");
}

static int lchem_molarity(lua_State *L)
{
	return lchem_four(L, chem_molarity_from_r, "chem.molarity");
}

static int lchem_r_from_molarity(lua_State *L)
{
	return lchem_four(L, chem_r_from_molarity, "chem.r_from_molarity");
}

static int lchem_attenuation(lua_State *L)
{
	char err[ERR_LEN];
	double mu, sigma, M;
	const char *f = luaL_checkstring(L, 1);
	double E = lchem_num(L, 2, "chem.attenuation");
	if (xray_mass_attenuation(f, E, &mu, err) ||
	    xray_molar_attenuation(f, E, &sigma, &M, err))
		return lbind_error(L, "chem.attenuation", err);
	lua_pushnumber(L, mu);
	lua_pushnumber(L, sigma);
	lua_pushnumber(L, M);
	return 3;
}

static void lchem_setnum(lua_State *L, const char *k, double v)
{
	lua_pushnumber(L, v);
	lua_setfield(L, -2, k);
}

static void lchem_push_fit(lua_State *L, const molvol_fit *f)
{
	const double A3 = 1e-30;
	lua_createtable(L, 0, 16);
	lchem_setnum(L, "M_salt", f->M_salt);
	lchem_setnum(L, "M_solvent", f->M_solvent);
	lchem_setnum(L, "V_salt", f->V_salt);
	lchem_setnum(L, "V_solvent", f->V_solvent);
	lchem_setnum(L, "sd_salt", f->sd_salt);
	lchem_setnum(L, "sd_solvent", f->sd_solvent);
	lchem_setnum(L, "cov", f->cov);
	lchem_setnum(L, "chi2", f->chi2);
	lua_pushinteger(L, f->dof);
	lua_setfield(L, -2, "dof");
	lchem_setnum(L, "V_salt_A3", molvol_per_molecule(f->V_salt) / A3);
	lchem_setnum(L, "V_solvent_A3", molvol_per_molecule(f->V_solvent) / A3);
	lchem_setnum(L, "sd_salt_A3", molvol_per_molecule(f->sd_salt) / A3);
	lchem_setnum(L, "sd_solvent_A3", molvol_per_molecule(f->sd_solvent) / A3);
}

/* fit_molar_volumes(r, rho, sigma [, {M_salt=, M_solvent=}]) */
static int lchem_fit(lua_State *L)
{
	char err[ERR_LEN];
	size_t n1, n2, n3;
	const double *r, *rho, *s;
	double Ms = CHEM_M_LITFSI_PAPER, Me = CHEM_M_EO_PAPER;
	molvol_fit f;
	lua_settop(L, 4);	/* argument slots stay put as copies are pushed */
	r = larray_doubles(L, 1, "chem.fit_molar_volumes: r", &n1);
	rho = larray_doubles(L, 2, "chem.fit_molar_volumes: rho", &n2);
	s = larray_doubles(L, 3, "chem.fit_molar_volumes: sigma", &n3);
	if (n1 != n2 || n1 != n3)
		return luaL_error(L, "chem.fit_molar_volumes: r, rho and sigma have "
				  "%d, %d and %d entries", (int)n1, (int)n2, (int)n3);
	if (lua_istable(L, 4)) {
		lua_getfield(L, 4, "M_salt");
		Ms = luaL_optnumber(L, -1, Ms);
		lua_getfield(L, 4, "M_solvent");
		Me = luaL_optnumber(L, -1, Me);
		lua_pop(L, 2);
	}
	if (molvol_fit_density(r, rho, s, n1, Ms, Me, &f, err))
		return lbind_error(L, "chem.fit_molar_volumes", err);
	lchem_push_fit(L, &f);
	return 1;
}

/* a fit table back into C; a hand-made {V_salt=, V_solvent=} works too */
static void lchem_get_fit(lua_State *L, int t, molvol_fit *f, const char *fname)
{
	luaL_checktype(L, t, LUA_TTABLE);
	f->V_salt = lbind_checknum(L, t, "V_salt", fname);
	f->V_solvent = lbind_checknum(L, t, "V_solvent", fname);
	f->M_salt = lbind_optnum(L, t, "M_salt", CHEM_M_LITFSI_PAPER, fname);
	f->M_solvent = lbind_optnum(L, t, "M_solvent", CHEM_M_EO_PAPER, fname);
	f->sd_salt = lbind_optnum(L, t, "sd_salt", 0, fname);
	f->sd_solvent = lbind_optnum(L, t, "sd_solvent", 0, fname);
	f->cov = lbind_optnum(L, t, "cov", 0, fname);
}

typedef int (*lchem_fitfn)(const molvol_fit *, double, double *, double *, char *);

static int lchem_with_fit(lua_State *L, lchem_fitfn fn, const char *fname)
{
	char err[ERR_LEN];
	molvol_fit f;
	double v, sd;
	lchem_get_fit(L, 1, &f, fname);
	if (fn(&f, lchem_num(L, 2, fname), &v, &sd, err))
		return lbind_error(L, fname, err);
	lua_pushnumber(L, v);
	lua_pushnumber(L, sd);
	return 2;
}

static int lchem_epsilon(lua_State *L)
{
	return lchem_with_fit(L, molvol_epsilon, "chem.epsilon");
}

static int lchem_kappa(lua_State *L)
{
	return lchem_with_fit(L, molvol_kappa, "chem.kappa");
}

static int lchem_concentration(lua_State *L)
{
	return lchem_with_fit(L, molvol_concentration, "chem.concentration");
}

static int lchem_density_fn(const molvol_fit *f, double r, double *v,
			    double *sd, char *err)
{
	*sd = NAN;
	return molvol_density(f, r, v, err);
}

static int lchem_density(lua_State *L)
{
	lchem_with_fit(L, lchem_density_fn, "chem.density");
	lua_pop(L, 1);
	return 1;
}

static int lchem_anion_velocity(lua_State *L)
{
	lua_pushnumber(L, molvol_anion_velocity(lchem_num(L, 1, "chem.anion_velocity"),
			       lchem_num(L, 2, "chem.anion_velocity")));
	return 1;
}

static int lchem_anion_solvent_frame(lua_State *L)
{
	lua_pushnumber(L, molvol_anion_solvent_frame(
		lchem_num(L, 1, "chem.anion_solvent_frame"),
		lchem_num(L, 2, "chem.anion_solvent_frame")));
	return 1;
}

static const luaL_Reg lchem_funcs[] = {
	{"molar_mass", lchem_molar_mass},
	{"molality", lchem_molality},
	{"r_from_molality", lchem_r_from_molality},
	{"molarity", lchem_molarity},
	{"r_from_molarity", lchem_r_from_molarity},
	{"attenuation", lchem_attenuation},
	{"fit_molar_volumes", lchem_fit},
	{"epsilon", lchem_epsilon},
	{"kappa", lchem_kappa},
	{"concentration", lchem_concentration},
	{"density", lchem_density},
	{"anion_velocity", lchem_anion_velocity},
	{"anion_solvent_frame", lchem_anion_solvent_frame},
	{NULL, NULL}
};

int luaopen_ionflow_chem(lua_State *L)
{
	luaL_newlib(L, lchem_funcs);
	lchem_setnum(L, "M_EO", CHEM_M_EO_PAPER);
	lchem_setnum(L, "M_LITFSI", CHEM_M_LITFSI_PAPER);
	lchem_setnum(L, "AVOGADRO", CHEM_AVOGADRO);
	return 1;
}
