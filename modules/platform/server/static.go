package server

import (
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/modules/platform/auth"
)

// StaticRoutes serves a file tree: index.html at / and every file under
// /static/. They are public: the dashboard's data comes from API routes,
// each with its own permission.
func StaticRoutes(fsys fs.FS) []Route {
	files := http.FileServer(http.FS(fsys))
	return []Route{
		{Method: http.MethodGet, Path: "/", Perm: auth.Public, Action: "dashboard", Resource: "dashboard",
			Handler: func(c *gin.Context) { c.FileFromFS("/", http.FS(fsys)) }},
		{Method: http.MethodGet, Path: "/static/*file", Perm: auth.Public, Action: "dashboard", Resource: "dashboard",
			Handler: func(c *gin.Context) {
				c.Request.URL.Path = c.Param("file")
				files.ServeHTTP(c.Writer, c.Request)
			}},
	}
}
